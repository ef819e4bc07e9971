"""Training of world models: losses, the training loop, logs and videos."""
