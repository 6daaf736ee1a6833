"""What the tabs share: the guarded handler wrapper and number parsing, choice lists and labels, the
session store, the current-model service, the checkpoint panel and the plot frames. Nothing here imports
a tab."""
