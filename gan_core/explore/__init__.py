"""Exploring trained generators: latent directions, truncation, interpolation, arithmetic, inversion."""
