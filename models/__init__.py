"""What a CycleGAN is and how it learns: networks, the model, the training loop, checkpoints. Pure torch."""
