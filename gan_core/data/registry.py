"""Datasets by name, as the trainer and the CLI refer to them.

2D: ring, grid, spiral, moons, two-gaussians, line (see toy2d). Images (32x32 unless the name says):
digits, digits16, shapes, shapes64, scenes, scenes64.
"""

from __future__ import annotations

from functools import lru_cache

from . import toy2d

IMAGE_SETS = {
    "digits": ("digits", 32), "digits16": ("digits", 16),
    "shapes": ("shapes", 32), "shapes64": ("shapes", 64),
    "scenes": ("scenes", 32), "scenes64": ("scenes", 64),
}
N_PROCEDURAL = 6000  # images generated for the procedural sets


def names() -> list[str]:
    return list(toy2d.BUILTIN) + list(IMAGE_SETS)


@lru_cache(maxsize=8)
def image_dataset(name: str, seed: int = 0):
    """The ImageDataset behind an image dataset name (cached: building scenes takes a second)."""
    kind, size = IMAGE_SETS[name]
    if kind == "digits":
        from .digits import load_digits

        return load_digits(size=size)
    if kind == "shapes":
        from .shapes import make_shapes

        return make_shapes(N_PROCEDURAL, size=size, seed=seed)
    from .scenes import make_scenes

    return make_scenes(N_PROCEDURAL, size=size, seed=seed)


SPLIT_SEED = 0  # the seed of every train / held-out split of a built-in set


@lru_cache(maxsize=8)
def image_split(name: str, held_out: float):
    """(train, held_out) parts of a built-in image set: `held_out` of the images, chosen with SPLIT_SEED,
    are never trained on (cached, so the trainer sees the same objects on every call)."""
    data = image_dataset(name)
    if not held_out:
        return data, data.subset([])
    return data.split(held_out, SPLIT_SEED)


def load(name: str, device="cpu", held_out: float = 0.0):
    """A sampler for the trainer: a Toy2D for 2D names, an ImageSource for image names (without the
    `held_out` fraction of the images)."""
    if name in IMAGE_SETS:
        from .source import ImageSource

        return ImageSource(image_split(name, held_out)[0], device=device)
    return toy2d.get(name)
