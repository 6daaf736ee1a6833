"""Command line:
`python -m gan_core {presets,train,eval,interpolate,bench,demos,load,dissect,lessons,slowmo}`.

Errors exit non-zero with a one-line reason on stderr. With `--json` the last line of stdout is one JSON
object (progress bars go to stderr).
"""

from __future__ import annotations

import argparse
import json
import sys

from . import cli


def _add_presets(sub) -> None:
    sub.add_parser("presets", help="list the training presets").add_argument("--json", action="store_true")


def _add_train(sub) -> None:
    t = sub.add_parser("train", help="train a preset headless, write checkpoint + metrics")
    t.add_argument("--preset", required=True)
    t.add_argument("--steps", type=int, default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="runs")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: per preset)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change one of the preset's settings: a training setting (lambda_shift=6) or, "
                        "as model.NAME, a network setting (model.g_base=64); VALUE is read as JSON, "
                        "else as text; repeatable")
    t.add_argument("--ddp", action="store_true",
                   help="train with DistributedDataParallel in the processes torchrun starts "
                        "(torchrun --nproc_per_node=N -m gan_core train ... --ddp)")
    t.add_argument("--json", action="store_true")


def _add_eval(sub) -> None:
    e = sub.add_parser("eval", help="metrics of a saved checkpoint")
    e.add_argument("checkpoint")
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    e.add_argument("--inversion", action="store_true",
                   help="image generators: invert generated and real images (PSNR, MRE train vs held-out)")
    e.add_argument("--samples", type=int, default=None,
                   help="with --inversion: images per group (default 64); with --codes: samples (default 2000)")
    e.add_argument("--codes", action="store_true",
                   help="InfoGAN models: MI bounds, category accuracy (Hungarian), code x factor correlations")
    e.add_argument("--mixing", action="store_true",
                   help="style-based shapes generators: what style mixing copies, noise, path lengths")
    e.add_argument("--pairs", type=int, default=500, help="with --mixing: (A, B) pairs (default 500)")
    e.add_argument("--json", action="store_true")


def _add_interpolate(sub) -> None:
    i = sub.add_parser("interpolate", help="an animated GIF walking through the latents of some seeds")
    i.add_argument("checkpoint")
    i.add_argument("--seeds", default="1,2,3,4", help="comma-separated seeds to pass through (default 1,2,3,4)")
    i.add_argument("--frames", type=int, default=32)
    i.add_argument("--mode", default="slerp", choices=["slerp", "lerp"])
    i.add_argument("--fps", type=float, default=12.0)
    i.add_argument("--label", type=int, default=None, help="class for a conditional generator (default 0)")
    i.add_argument("--out", default="interpolation.gif")
    i.add_argument("--json", action="store_true")


def _add_bench(sub) -> None:
    b = sub.add_parser("bench", help="our trainer against a plain PyTorch loop, side by side")
    b.add_argument("--preset", default=None, help="default: the default 2D preset")
    b.add_argument("--steps", type=int, default=None)
    b.add_argument("--ui", action="store_true", help="also measure throughput while a live session is polled")
    b.add_argument("--latency", action="store_true",
                   help="drive the latent explorer in Chromium: slider input to image shown (p50/p95 ms)")
    b.add_argument("--tab", default="explorer", help="with --latency: explorer (default), codes, mixing or all")
    b.add_argument("--moves", type=int, default=50, help="with --latency: slider moves timed (default 50)")
    b.add_argument("--chromium", default=None, help="with --latency: the Chromium binary (default: found on PATH)")
    b.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    b.add_argument("--live", action="store_true",
                   help="the Train tabs' live views in Chromium while training: fps, frame age, slowdown")
    b.add_argument("--seconds", type=float, default=10.0,
                   help="with --live: seconds per measured phase (default 10)")
    b.add_argument("--json", action="store_true")


def _add_demos(sub) -> None:
    d = sub.add_parser("demos", help="check that each demo preset keeps its promise over seeds")
    d.add_argument("--preset", action="append", default=None,
                   help="a demo preset to check (repeatable; default: every preset with a promise)")
    d.add_argument("--seeds", default="0-4", help="seeds as 0-4 or 0,2,3 (default 0-4)")
    d.add_argument("--steps", type=int, default=None, help="run length (default: the preset's)")
    d.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: per preset)")
    d.add_argument("--json", action="store_true")


def _add_slowmo(sub) -> None:
    s = sub.add_parser("slowmo", help="one 2D training round in slow motion: its sub-steps and G's gradient "
                                      "under the loss in force beside the non-saturating loss's")
    s.add_argument("--preset", default="saturating", help="a 2D preset (default saturating)")
    s.add_argument("--steps", type=int, default=0,
                   help="rounds trained before the slow-motion round (default 0)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--loss", default=None, help="another loss than the preset's")
    s.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    s.add_argument("--time", action="store_true", help="also time an ordinary and a slow-motion round")
    s.add_argument("--json", action="store_true")


def _add_load(sub) -> None:
    ld = sub.add_parser("load", help="simulated students against a local server: latency, fairness, memory")
    ld.add_argument("--students", type=int, default=40, help="simulated students (default 40)")
    ld.add_argument("--trainings", type=int, default=6, help="students who train a 2D model (default 6)")
    ld.add_argument("--seconds", type=float, default=120.0, help="how long the class works (default 120)")
    ld.add_argument("--seed", type=int, default=0)
    ld.add_argument("--json", action="store_true")


def _add_dissect(sub) -> None:
    d = sub.add_parser("dissect", help="GAN dissection of an image generator's layer: IoU, ablation, "
                                       "insertion, artifact units")
    d.add_argument("checkpoint")
    d.add_argument("--layer", default=None, help="feature layer (default: the family's dissection layer)")
    d.add_argument("--samples", type=int, default=500, help="generated samples (default 500)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores, at most 4)")
    d.add_argument("--json", action="store_true")


def _add_lessons(sub) -> None:
    ls = sub.add_parser("lessons", help="the guided lessons: list them, or play each in Chromium (--check)")
    ls.add_argument("--list", action="store_true", help="list the lessons (the default without --check)")
    ls.add_argument("--check", action="store_true",
                    help="play every lesson headless through the lesson player; whether each phenomenon appeared")
    ls.add_argument("--lesson", action="append", default=None, help="a lesson to check (repeatable; default: all)")
    ls.add_argument("--folder", default=None, help="a folder of lesson files (default: the shipped lessons)")
    ls.add_argument("--screenshots", default=None, metavar="DIR",
                    help="with --check: save the page at each lesson's last phenomenon as DIR/<lesson>.png")
    ls.add_argument("--chromium", default=None, help="with --check: the Chromium binary (default: found on PATH)")
    ls.add_argument("--json", action="store_true")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gan_core", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    _add_slowmo(sub)
    for add in (_add_presets, _add_train, _add_eval, _add_interpolate, _add_bench, _add_demos, _add_load,
                _add_dissect):
        add(sub)
    _add_lessons(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result = getattr(cli, f"cmd_{args.cmd}")(args)
    except cli.CLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    if result is not None:
        if args.json:
            print(json.dumps(result))
        else:
            cli.print_human(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
