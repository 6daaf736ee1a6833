"""`python -m gan_core demos`: each demo preset (a preset with a Promise, e.g. collapse-ring: at most 2 of
8 modes at every evaluation) trained to its length for each seed, its promise checked at every
evaluation, so that a demo is known to show its phenomenon from start to end."""

from __future__ import annotations

import time
from typing import Callable

from . import models
from .device import set_threads
from .training import presets
from .training.trainer import Trainer


def parse_seeds(text: str) -> list[int]:
    """'0-4' or '0,2,3' -> seeds; ValueError naming --seeds otherwise."""
    try:
        if "-" in text.strip("-"):
            a, b = (int(x) for x in text.split("-", 1))
            seeds = list(range(a, b + 1))
        else:
            seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--seeds must look like 0-4 or 0,2,3, got {text!r}") from None
    if not seeds or len(seeds) > 100 or min(seeds) < 0:
        raise ValueError(f"--seeds must name 1 to 100 seeds >= 0, got {text!r}")
    return seeds


def chosen(names: list[str] | None) -> list[presets.Preset]:
    """The named presets (default: every preset with a promise); ValueError for one without."""
    names = names or [p.name for p in presets.PRESETS.values() if p.promise is not None]
    out = []
    for n in names:
        try:
            p = presets.get(n)
        except KeyError as e:
            raise ValueError(e.args[0]) from None
        if p.promise is None:
            raise ValueError(f"preset {p.name!r} demonstrates no phenomenon to check (no promise)")
        out.append(p)
    return out


def run(names: list[str] | None, seeds: str, steps: int | None, threads: int | None,
        train: Callable[[Trainer], None]) -> dict:
    """{"demos": {preset: {"promise", "steps", "seeds": {seed: check}, "holds"}}, "all_hold"}; `train`
    runs a trainer for its configured steps (the CLI's, with a progress bar)."""
    picked, seed_list = chosen(names), parse_seeds(seeds)
    if steps is not None and steps < 1:
        raise ValueError("--steps must be at least 1")
    out = {}
    for p in picked:
        n = steps or p.promise.until or p.config.steps  # default: the demo's length in the app
        cfg = p.config.replace(steps=n, eval_every=min(p.config.eval_every, n))
        set_threads(threads if threads else models.get(cfg.family).train_threads)
        runs = {}
        for seed in seed_list:
            trainer = Trainer(cfg.replace(seed=seed))
            t0 = time.perf_counter()
            train(trainer)
            if trainer.metrics.get("step") != trainer.step_count:
                trainer.evaluate()
            runs[str(seed)] = {**p.promise.check(trainer.history.rows),
                               "seconds": round(time.perf_counter() - t0, 1)}
        out[p.name] = {"promise": p.promise.text, "steps": n, "seeds": runs,
                       "holds": all(r["holds"] for r in runs.values())}
    return {"demos": out, "all_hold": all(d["holds"] for d in out.values())}
