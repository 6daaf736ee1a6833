"""Datasets: 2D toy distributions and image sets. All generators are seeded."""
