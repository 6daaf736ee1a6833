"""Metrics: 2D mode coverage (modes.py); image metrics live beside it."""
