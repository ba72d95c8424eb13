"""Looking inside a generator without Qt: parser (layers, skips), masks (gains), probe (incremental masked
forward), render (feature maps as images), ablation (filters ranked by effect), kernels (faster CPU convs)."""
