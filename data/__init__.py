"""Images in, tensors out: the toy shape generator, the unaligned dataset loader, the colourization score."""
