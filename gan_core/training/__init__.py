"""Training: configs, the trainer (step/run), live sessions and named presets."""

from .config import TrainConfig
from .trainer import Trainer, TrainingDiverged

__all__ = ["TrainConfig", "Trainer", "TrainingDiverged"]
