"""Choice lists and labels that more than one tab shows."""

from __future__ import annotations

LR_CHOICES = [1e-5, 3e-5, 1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 3e-2, 0.1]
EMA_CHOICES = [0.0, 0.9, 0.99, 0.995, 0.999, 0.9999]
STATE_LABELS = {"idle": "ready", "running": "training", "paused": "paused", "diverged": "diverged",
                "error": "stopped by an error"}
ALERT_STATES = ("diverged", "error")  # states whose message is shown as a warning once, and in bold
QUIET = {"show_progress": "hidden"}  # frequent events: errors show as toasts, the picture stays in place
