"""Looking inside networks: hooks that trace or edit named layers and always remove themselves."""

from .hooks import StopForward, Trace, TraceDict, get_module, layer_names

__all__ = ["StopForward", "Trace", "TraceDict", "get_module", "layer_names"]
