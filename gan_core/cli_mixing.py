"""`python -m gan_core eval CKPT --mixing`: what style mixing copies, beside the checkpoint's metrics."""

from __future__ import annotations

import os
import sys
import time

from tqdm import tqdm

from .cli import CLIError, _device, _metrics_out
from .training.trainer import trainer_from_checkpoint


def eval_mixing(args, ck) -> dict:
    """Style mixing measured with the shapes factor evaluator (explore.mixing.mixing_report), beside the
    checkpoint's usual metrics."""
    from .explore import latent, mixing
    from .models.contract import is_style_based

    if not is_style_based(ck.G):
        raise CLIError(f"{args.checkpoint}: --mixing needs a style-based generator (family "
                       f"{ck.train_config.family!r} has no mapping network)")
    if ck.meta.get("dataset") not in ("shapes", "shapes64"):
        raise CLIError(f"{args.checkpoint}: --mixing reads shapes factors; this model draws {ck.meta.get('dataset')!r}")
    if not 10 <= args.pairs <= 10_000:
        raise CLIError("--pairs must be between 10 and 10000")
    device = _device(args.device)
    trainer = trainer_from_checkpoint(ck, device=device)
    m = _metrics_out(trainer.metrics)
    m.pop("mode_counts", None)
    model = latent.LatentModel.from_checkpoint(ck, os.path.basename(args.checkpoint))
    t0 = time.perf_counter()
    with tqdm(total=100, desc="mixing", unit="%", file=sys.stderr, leave=False) as bar:
        def progress(what: str, frac: float) -> None:
            bar.n = round(100 * frac)
            bar.set_description(what)
            bar.refresh()

        report = mixing.mixing_report(model, n_pairs=args.pairs, progress=progress)
    return {"checkpoint": args.checkpoint, "family": ck.train_config.family, "dataset": ck.meta["dataset"],
            "step": ck.step, **m, **report, "seconds": round(time.perf_counter() - t0, 2)}
