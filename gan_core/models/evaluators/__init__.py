"""Small evaluator networks that judge generated images: a classifier, a segmenter and a factor reader,
trained on real data.

The classifier labels images (digits: the digit; shapes: the shape) for mode coverage and its penultimate
features give the Frechet distance (the role Inception-v3 plays for FID, Heusel et al. 2017, at toy
scale). The segmenter, a tiny U-Net (Ronneberger et al. 2015), labels every pixel of a procedural scene
for the segmentation probes of GAN Dissection (Bau et al. 2019); its globally pooled bottleneck is its
feature vector. The factor reader (`FactorNet`, kind "factors") reads every ground-truth factor of a
procedural shapes sprite as a bin: shape, scale, rotation, x, y and colour (see `FactorNetConfig` for the
bins). All use BatchNorm, so in eval mode every sample's output is independent of the batch.

Evaluators are saved like generator checkpoints: safetensors weights, metadata strings holding the
config and the card (class names, data, held-out metrics), and the card as JSON beside the file.
Build the shipped ones with `python -m gan_core.models.evaluators --which all --out checkpoints/`.

Modules: `common` (shared parts and the training loop), `classifier`, `segmenter`, `factors` (one per
evaluator), `io` (save and load, with validation) and `recipes` (the shipped evaluators and the command
line, run by `__main__`).
"""

from .classifier import Classifier, ClassifierConfig, evaluate_classifier, train_classifier
from .common import (ACCURACY, FACTOR_ACCURACY, FACTORS, HELD_OUT_FRAC, KINDS, MEAN_IOU, MIN_ACCURACY,
                     ORDINAL, PER_CLASS_IOU, PIXEL_ACCURACY, UNDEFINED, WITHIN_ONE_BIN, Progress, predict)
from .factors import (FactorNet, FactorNetConfig, evaluate_factors, factor_bins, factor_definitions,
                      train_factor_net)
from .io import FORMAT_VERSION, MAX_EVALUATOR_BYTES, MODELS, REQUIRED_META, load_evaluator, save_evaluator
from .recipes import RECIPES, TRAINERS, build_shipped, main, recipe_data
from .segmenter import Segmenter, SegmenterConfig, evaluate_segmenter, train_segmenter

__all__ = [
    "ACCURACY", "FACTOR_ACCURACY", "FACTORS", "FORMAT_VERSION", "HELD_OUT_FRAC", "KINDS",
    "MAX_EVALUATOR_BYTES", "MEAN_IOU", "MIN_ACCURACY", "MODELS", "ORDINAL", "PER_CLASS_IOU",
    "PIXEL_ACCURACY", "REQUIRED_META", "RECIPES", "TRAINERS", "UNDEFINED", "WITHIN_ONE_BIN", "Classifier",
    "ClassifierConfig", "FactorNet", "FactorNetConfig", "Progress", "Segmenter", "SegmenterConfig",
    "build_shipped", "evaluate_classifier", "evaluate_factors", "evaluate_segmenter", "factor_bins",
    "factor_definitions", "load_evaluator", "main", "predict", "recipe_data", "save_evaluator",
    "train_classifier", "train_factor_net", "train_segmenter",
]
