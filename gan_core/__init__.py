"""GAN Explorer core: datasets, models, losses, training, metrics and exploration tools (PyTorch only)."""

__version__ = "0.1.0"
