"""Pictures as numpy arrays (no GUI toolkit): the 2D plane view and image grids."""
