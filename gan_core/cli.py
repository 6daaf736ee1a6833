"""The commands behind `python -m gan_core`; each returns a dict (printed as JSON with --json)."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time

import torch
from tqdm import tqdm

from . import checkpoint, models
from .device import pick_device, set_threads
from .training import presets
from .viz import timeline
from .training.trainer import Trainer, TrainingDiverged, trainer_from_checkpoint


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def print_human(result: dict) -> None:
    for k, v in result.items():
        if isinstance(v, float):
            v = f"{v:.4g}"
        elif isinstance(v, (list, dict)):
            v = json.dumps(v)
        print(f"{k:>24}: {v}")


def _device(name: str) -> torch.device:
    try:
        return pick_device(name)
    except ValueError as e:
        raise CLIError(str(e)) from None


def _preset(name: str) -> presets.Preset:
    try:
        return presets.get(name)
    except KeyError as e:
        raise CLIError(e.args[0]) from None


def cmd_presets(args) -> dict | None:
    rows = {p.name: {"title": p.title, "kind": p.kind, "dataset": p.config.dataset, "loss": p.config.loss,
                     "steps": p.config.steps} for p in presets.PRESETS.values()}
    if args.json:
        return rows
    for name, r in rows.items():
        print(f"{name:<20} {r['title']:<36} {r['dataset']:<8} {r['loss']:<14} {r['steps']} steps")
    return None


def _metrics_out(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "step"}


def _train_config(args, preset: presets.Preset):
    """The preset's config with the command line's seed, --set changes and --steps."""
    if args.steps is not None and args.steps < 1:
        raise CLIError("--steps must be at least 1")
    try:
        cfg = preset.config.replace(seed=args.seed).with_changes(getattr(args, "set", None) or [])
    except ValueError as e:
        raise CLIError(f"--set: {e}") from None
    return cfg.replace(steps=args.steps, eval_every=min(cfg.eval_every, args.steps)) if args.steps else cfg


def cmd_train(args) -> dict:
    preset = _preset(args.preset)
    cfg = _train_config(args, preset)
    device = _device(args.device)
    if getattr(args, "ddp", False):
        return _train_ddp(args, preset, cfg, device)
    threads = set_threads(args.threads if args.threads else models.get(cfg.family).train_threads)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as e:
        raise CLIError(f"cannot create output folder {args.out}: {e.strerror}") from None
    trainer = Trainer(cfg, device=device)
    t0 = time.perf_counter()
    diverged = None
    recorder = timeline.Recorder(trainer.step_count, cfg.steps) if trainer.is_image else None
    try:
        _run_with_progress(trainer, cfg.steps, recorder)
    except TrainingDiverged as e:
        diverged = str(e)
    seconds = time.perf_counter() - t0
    if trainer.metrics.get("step") != trainer.step_count:
        trainer.evaluate()
    ckpt = os.path.join(args.out, f"{preset.name}.safetensors")
    card = {"preset": preset.name, "seconds": round(seconds, 2), "device": str(device), "threads": threads,
            "torch": torch.__version__, "command": f"python -m gan_core train --preset {preset.name} "
            f"--seed {args.seed}" + (f" --steps {args.steps}" if args.steps else "")
            + (f" --threads {args.threads}" if args.threads else "")
            + "".join(f" --set {shlex.quote(c)}" for c in getattr(args, "set", None) or [])
            + f" --out {args.out}"}
    if recorder is not None:
        recorder(trainer)  # the last step's grid, whatever the schedule said
    checkpoint.save(ckpt, trainer, card, timeline=recorder.items if recorder else None)
    with open(os.path.join(args.out, f"{preset.name}.metrics.jsonl"), "w") as f:
        trainer.history.write_jsonl(f)
    out = {"preset": preset.name, "seed": args.seed, "steps": trainer.step_count, "seconds": round(seconds, 3),
           "steps_per_s": round(trainer.step_count / max(seconds, 1e-9), 1), **_metrics_out(trainer.metrics),
           **({"min_classes": trainer.min_classes} if trainer.is_image
              else {"min_modes": trainer.min_modes, "max_modes": trainer.max_modes}),
           "engine": trainer.engine, "device": str(device), "checkpoint": ckpt}
    out.pop("mode_counts", None)
    if diverged:
        out["diverged"] = diverged
    return out


def _run_with_progress(trainer: Trainer, steps: int, recorder=None) -> None:
    """Train `steps` with a tqdm bar on stderr; `recorder` (a timeline.Recorder) sees every tick."""
    from tqdm import tqdm

    with tqdm(total=steps, desc="train", unit="step", file=sys.stderr, mininterval=0.5,
              disable=not sys.stderr.isatty() and os.environ.get("GAN_PROGRESS") != "1") as bar:
        def tick(t: Trainer) -> None:
            if recorder is not None:
                recorder(t)
            bar.update(t.step_count - bar.n)
            m = t.metrics
            if "modes" in m:
                bar.set_postfix(modes=m["modes"], hq=f"{m['hq']:.3f}", refresh=False)
            elif "fd" in m:
                bar.set_postfix({k: m[k] if isinstance(m[k], int) else f"{m[k]:.3g}"
                                 for k in ("classes_covered", "confident", "fd") if k in m}, refresh=False)
        if recorder is not None:
            recorder(trainer)  # the grid before training
        trainer.run(steps, on_tick=tick, tick_every=200 if trainer.engine == "fused" else 20)
        bar.update(trainer.step_count - bar.n)


def cmd_eval(args) -> dict:
    device = _device(args.device)
    try:
        ck = checkpoint.load(args.checkpoint, device=device)
    except checkpoint.CheckpointError as e:
        raise CLIError(f"{args.checkpoint}: {e}") from None
    set_threads(models.get(ck.train_config.family).train_threads)
    if args.inversion:
        return _eval_inversion(args, ck)
    if getattr(args, "codes", False):
        return _eval_codes(args, ck)
    if getattr(args, "mixing", False):
        from .cli_mixing import eval_mixing

        return eval_mixing(args, ck)
    trainer = trainer_from_checkpoint(ck, device=device)
    m = _metrics_out(trainer.metrics)
    m.pop("mode_counts", None)
    return {"checkpoint": args.checkpoint, "family": ck.train_config.family, "dataset": ck.meta["dataset"],
            "step": ck.step, **m}


def _eval_inversion(args, ck) -> dict:
    from .explore import latent

    if models.output_kind(ck.train_config.family) == "points":
        raise CLIError(f"{args.checkpoint}: --inversion needs an image generator, this one is a 2D model")
    if args.samples is None:
        args.samples = 64
    if not 1 <= args.samples <= 1024:
        raise CLIError("--samples must be between 1 and 1024")
    try:
        model = latent.LatentModel.from_checkpoint(ck, os.path.basename(args.checkpoint))
        t0 = time.perf_counter()
        with tqdm(total=100, desc="inversion", unit="%", file=sys.stderr, leave=False) as bar:
            def progress(what: str, frac: float) -> None:
                bar.n = round(100 * frac)
                bar.refresh()

            report = latent.inversion_report(model, n_generated=args.samples, n_real=args.samples,
                                             progress=progress)
    except ValueError as e:
        raise CLIError(f"{args.checkpoint}: {e}") from None
    return {"checkpoint": args.checkpoint, "family": ck.train_config.family, "dataset": ck.meta["dataset"],
            "step": ck.step, **report, "seconds": round(time.perf_counter() - t0, 2)}


def cmd_interpolate(args) -> dict:
    """Write an animated GIF through the seeds' latents; the end frames are exactly the seeds' images."""
    from .explore import latent
    from .viz import explore as vx

    try:
        seeds = [int(s) for s in args.seeds.replace(" ", "").split(",") if s]
    except ValueError:
        raise CLIError(f"--seeds must be comma-separated whole numbers, got {args.seeds!r}") from None
    if len(seeds) < 2 or min(seeds) < 0:
        raise CLIError("--seeds needs at least two seeds >= 0")
    if not len(seeds) <= args.frames <= 1000:
        raise CLIError(f"--frames must be between the number of seeds ({len(seeds)}) and 1000")
    if not 0.5 <= args.fps <= 50:
        raise CLIError("--fps must be between 0.5 and 50")
    if not args.out.lower().endswith(".gif"):
        raise CLIError("--out must name a .gif file")
    try:
        ck = checkpoint.load(args.checkpoint, device="cpu")
    except checkpoint.CheckpointError as e:
        raise CLIError(f"{args.checkpoint}: {e}") from None
    set_threads(1)
    t0 = time.perf_counter()
    try:
        model = latent.LatentModel.from_checkpoint(ck, os.path.basename(args.checkpoint))
        t1 = time.perf_counter()
        zs = latent.interpolate(model.latents(seeds), args.frames, args.mode)
        if model.kind == "image":
            size = int(model.G.cfg.image_size)
            frames = [vx.tile(x, max(1, 96 // size)) for x in model.generate_each(zs, args.label)]
        else:
            view, path = vx.PlaneView(model), model.generate(zs).numpy()
            frames = [view.render(z, None, path[:k + 1]) for k, z in enumerate(zs)]
        gif = latent.gif_bytes(frames, fps=args.fps)
    except ValueError as e:
        raise CLIError(str(e)) from None
    try:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "wb") as f:
            f.write(gif)
    except OSError as e:
        raise CLIError(f"cannot write {args.out}: {e.strerror}") from None
    t2 = time.perf_counter()
    return {"gif": args.out, "frames": args.frames, "seeds": seeds, "mode": args.mode, "bytes": len(gif),
            "seconds": round(t2 - t1, 3), "seconds_with_load": round(t2 - t0, 3)}


def cmd_bench(args) -> dict:
    from . import bench

    if getattr(args, "live", False):
        from . import latency, livebench

        try:
            return livebench.run(seconds=args.seconds, chromium=args.chromium)
        except latency.LatencyError as e:
            raise CLIError(str(e)) from None
    if args.latency:
        from . import latency

        try:
            return latency.run(moves=args.moves, chromium=args.chromium, tab=args.tab)
        except latency.LatencyError as e:
            raise CLIError(str(e)) from None
    device = _device(args.device)
    name = args.preset or presets.DEFAULT_2D
    preset = _preset(name)
    return bench.run(preset, steps=args.steps, ui=args.ui, device=device)


def cmd_demos(args) -> dict:
    """Each demo preset trained to its length per seed, its promise checked at every evaluation."""
    from . import demos

    try:
        return demos.run(args.preset, args.seeds, args.steps, args.threads,
                         lambda t: _run_with_progress(t, t.cfg.steps))
    except ValueError as e:
        raise CLIError(str(e)) from None


def cmd_slowmo(args) -> dict:
    """One 2D round in slow motion (gan_core.cli_slowmo)."""
    from .cli_slowmo import cmd

    return cmd(args)


def _train_ddp(args, preset, cfg, device) -> dict | None:
    """`train --ddp` in each process torchrun starts: DDP over the group, rank 0 saves and reports (with
    `world_size` and `params_identical`); the other ranks print nothing."""
    from .training import distributed

    if not distributed.launched():
        raise CLIError("--ddp needs torchrun: torchrun --nproc_per_node=2 -m gan_core train --preset "
                       f"{preset.name} --ddp")
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
    # threads as a headless run of the family, within the cores each process of this machine gets
    per_family = models.get(cfg.family).train_threads or os.cpu_count() or 1
    threads = set_threads(args.threads or max(1, min(per_family, (os.cpu_count() or 1) // local_world)))
    group = distributed.join(device)
    if group.rank == 0:
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as e:
            raise CLIError(f"cannot create output folder {args.out}: {e.strerror}") from None

    def run(trainer):
        if group.rank == 0:
            _run_with_progress(trainer, cfg.steps)
        else:
            trainer.run(cfg.steps)

    try:
        trainer, seconds, identical = distributed.train(cfg, group, run)
        if trainer.metrics.get("step") != trainer.step_count:
            trainer.evaluate()
        out = None
        if group.rank == 0:
            ckpt = os.path.join(args.out, f"{preset.name}.safetensors")
            card = {"preset": preset.name, "seconds": round(seconds, 2), "device": str(group.device),
                    "threads": threads, "world_size": group.world_size, "torch": torch.__version__,
                    "command": f"torchrun --nproc_per_node={group.world_size} -m gan_core train --preset "
                               f"{preset.name} --seed {args.seed} --steps {cfg.steps} --ddp --out {args.out}"}
            checkpoint.save(ckpt, trainer, card)
            sps = trainer.step_count / max(seconds, 1e-9)
            out = {"preset": preset.name, "seed": args.seed, "steps": trainer.step_count,
                   "seconds": round(seconds, 3), "steps_per_s": round(sps, 1),
                   "samples_per_s": round(sps * trainer.batch * group.world_size, 1),
                   **_metrics_out(trainer.metrics),
                   **({"min_classes": trainer.min_classes} if trainer.is_image
                      else {"min_modes": trainer.min_modes}),
                   "engine": trainer.engine, "device": str(group.device), "threads": threads,
                   "world_size": group.world_size, "params_identical": identical, "checkpoint": ckpt}
            out.pop("mode_counts", None)
    finally:
        distributed.leave()
    return out


def cmd_load(args) -> dict:
    """A class of simulated students against a fresh local server (gan_core.load)."""
    from . import load

    with tqdm(total=100, desc="load", unit="%", file=sys.stderr, leave=False) as bar:
        def progress(frac: float) -> None:
            bar.n = round(100 * frac)
            bar.refresh()

        try:
            return load.run(args.students, args.trainings, args.seconds, args.seed, progress=progress)
        except ValueError as e:
            raise CLIError(str(e)) from None
        except load.LoadError as e:
            raise CLIError(f"load test: {e}") from None


def _eval_codes(args, ck) -> dict:
    """What an InfoGAN model's codes learned: MI bounds, category accuracy, code x factor table."""
    from .metrics import codes, image_eval

    if models.output_kind(ck.train_config.family) == "points":
        raise CLIError(f"{args.checkpoint}: --codes needs an image generator with InfoGAN codes")
    n = 2000 if args.samples is None else args.samples
    if not 10 <= n <= codes.MAX_SAMPLES:
        raise CLIError(f"--samples must be between 10 and {codes.MAX_SAMPLES} with --codes")
    t0 = time.perf_counter()
    try:
        report = codes.code_report(ck.G, ck.D, image_eval.kind_of(ck.train_config.dataset), n=n, seed=0)
    except ValueError as e:
        raise CLIError(f"{args.checkpoint}: {e}") from None
    return {"checkpoint": args.checkpoint, "family": ck.train_config.family, "dataset": ck.meta["dataset"],
            "step": ck.step, **report, "seconds": round(time.perf_counter() - t0, 2)}


def cmd_dissect(args) -> dict:
    """GAN dissection of one layer of an image generator (gan_core.inspect.report)."""
    from .data import registry
    from .inspect import dissect, report, segment
    from .models import copies

    if not 10 <= args.samples <= 5000:
        raise CLIError("--samples must be between 10 and 5000")
    if args.threads is not None and not 1 <= args.threads <= 64:
        raise CLIError("--threads must be between 1 and 64")
    try:
        ck = checkpoint.load(args.checkpoint, device="cpu")
    except checkpoint.CheckpointError as e:
        raise CLIError(f"{args.checkpoint}: {e}") from None
    family, dataset = ck.train_config.family, ck.train_config.dataset
    if models.output_kind(family) != "image":
        raise CLIError(f"{args.checkpoint}: dissect needs an image generator, this one is a 2D model")
    set_threads(args.threads)
    seg = segment.for_dataset(dataset)
    real = registry.image_dataset(dataset).images if seg is not None else None
    G = copies.frozen_generator(family, {}, G=ck.G)
    try:
        dissect.layer_path(G, args.layer, family)  # a bad layer name fails before any progress bar
        with tqdm(total=None, desc="dissect", file=sys.stderr, leave=False) as bar:
            def progress(what: str) -> None:
                bar.set_postfix_str(what)
                bar.update(1)

            out = report.full_report(G, family, dataset, args.layer, args.samples, seg, real, progress,
                                     seed=args.seed)
    except ValueError as e:
        raise CLIError(f"{args.checkpoint}: {e}") from None
    return {"checkpoint": args.checkpoint, "family": family, "dataset": dataset, **out}


def cmd_lessons(args) -> dict | None:
    """List the lessons, or (`--check`) play them in Chromium through the lesson player."""
    from .cli_lessons import cmd
    return cmd(args)
