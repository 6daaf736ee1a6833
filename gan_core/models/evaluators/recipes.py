"""The shipped evaluators (what data each is trained on and how long) and the command line that builds
them: `python -m gan_core.models.evaluators --which all --out checkpoints/`."""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

from ...data.images import ImageDataset
from .classifier import train_classifier
from .common import ACCURACY, HELD_OUT_FRAC, MEAN_IOU, MIN_ACCURACY
from .factors import train_factor_net
from .io import save_evaluator
from .segmenter import train_segmenter

RECIPES = {
    "digits": {"file": "eval-digits-classifier.safetensors",
               "data": {"name": "digits", "size": 32, "seed": 0},
               "kind": "classifier", "epochs": 20, "kwargs": {"shift": True}, "target": (ACCURACY, 0.97)},
    "shapes": {"file": "eval-shapes-classifier.safetensors",
               "data": {"name": "shapes", "n": 10000, "size": 32, "seed": 0},
               "kind": "classifier", "epochs": 6, "kwargs": {"shift": False}, "target": (ACCURACY, 0.95)},
    "scenes": {"file": "eval-scenes-segmenter.safetensors",
               "data": {"name": "scenes", "n": 6000, "size": 32, "seed": 0},
               "kind": "segmenter", "epochs": 4, "kwargs": {}, "target": (MEAN_IOU, 0.85)},
    # every factor of a shapes sprite as bins (see FactorNetConfig); the target is the worst factor's
    "shapes-factors": {"file": "eval-shapes-factors.safetensors",
                       "data": {"name": "shapes", "n": 10000, "size": 32, "seed": 0},
                       "kind": "factors", "epochs": 8, "kwargs": {}, "target": (MIN_ACCURACY, 0.9)},
}
TRAINERS = {"classifier": "train_classifier", "segmenter": "train_segmenter", "factors": "train_factor_net"}
_TRAINER_FNS = {f.__name__: f for f in (train_classifier, train_segmenter, train_factor_net)}


def recipe_data(spec: dict) -> ImageDataset:
    """The dataset a recipe's `data` entry names (also used to re-measure shipped evaluators)."""
    from ...data import digits, scenes, shapes

    if spec["name"] == "digits":
        return digits.load_digits(spec["size"], seed=spec["seed"])
    maker = {"shapes": shapes.make_shapes, "scenes": scenes.make_scenes}[spec["name"]]
    return maker(spec["n"], size=spec["size"], seed=spec["seed"])


def build_shipped(which: str, out_dir: str, seed: int = 0) -> dict:
    """Train one shipped evaluator with tqdm progress on stderr, save it; returns its card."""
    from tqdm import tqdm

    r = RECIPES[which]
    data = recipe_data(r["data"])
    trainer = _TRAINER_FNS[TRAINERS[r["kind"]]]
    with tqdm(desc=f"eval-{which}", unit="step", file=sys.stderr, mininterval=0.5) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        model, report = trainer(data, r["epochs"], seed, progress, **r["kwargs"])
    metric, target = r["target"]
    card = {"dataset": {**r["data"], "held_out_frac": HELD_OUT_FRAC, "split_seed": seed},
            "target": {metric: target}, **report}
    if r["kind"] == "factors":  # newer cards also say how to rebuild them
        card["command"] = f"python -m gan_core.models.evaluators --which {which} --out checkpoints"
    save_evaluator(os.path.join(out_dir, r["file"]), model, card)
    return card


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gan_core.models.evaluators",
                                description="Train and save the shipped evaluator networks.")
    p.add_argument("--which", choices=[*RECIPES, "all"], default="all")
    p.add_argument("--out", default="checkpoints")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, args.threads))
    failed = False
    for which in RECIPES if args.which == "all" else [args.which]:
        card = build_shipped(which, args.out)
        metric, target = next(iter(card["target"].items()))
        got = card["held_out"][metric]
        failed |= not (got >= target)
        print(json.dumps({"evaluator": which, metric: round(got, 4), "target": target,
                          "train_seconds": card["train_seconds"]}))
    return 1 if failed else 0
