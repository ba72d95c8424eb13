"""Looking inside a network without Qt: the parser, masks, incremental forward, rendering, plots."""
