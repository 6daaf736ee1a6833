"""`python -m gan_core bench`: our trainer against a plain textbook PyTorch loop, in the same run.

Both train the same networks with the same batch, loss and optimiser for the same number of steps, on
the same thread count; the figure that matters is the ratio. With `--ui`, a live session trains while
the main thread polls it as the app does (snapshot + plane picture + curve data, 4 times a second);
`ui_overhead` is the fraction of throughput lost to that polling.
"""

from __future__ import annotations

import time

import torch

from .device import set_threads
from .reference import PlainImages, plain_loop
from .training.presets import Preset
from .training.session import TrainingSession
from .training.trainer import Trainer

POLL_HZ = 4.0


def _ours(cfg, steps: int, device) -> float:
    t = Trainer(cfg.replace(eval_every=10**8), device=device)
    t.run(min(200, steps))  # warm-up: first calls allocate
    t0 = time.perf_counter()
    t.run(steps)
    return steps / (time.perf_counter() - t0)


def _session_rate(cfg, seconds: float, poll: bool) -> float:
    from .viz.plane import PlaneRenderer
    from .viz.curves import curve_table

    s = TrainingSession(cfg)
    renderer = PlaneRenderer()
    try:
        s.play()
        time.sleep(0.3)
        start = s.snapshot().step
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            if poll:
                snap = s.snapshot()
                renderer.render(snap)
                curve_table(snap.rows, ("d_loss", "g_loss"))
                curve_table(snap.rows, ("modes",))
            time.sleep(1.0 / POLL_HZ)
        end = s.snapshot().step
        return (end - start) / (time.perf_counter() - t0)
    finally:
        s.close()


def run(preset: Preset, steps: int | None = None, ui: bool = False, device=torch.device("cpu")) -> dict:
    cfg = preset.config
    threads = set_threads(1 if preset.kind == "2d" else None)
    steps = steps or (3000 if preset.kind == "2d" else 300)  # image steps: a few seconds; 100 gave ratios 5 % apart
    ref_steps = max(10, steps // 3)
    plain_loop(cfg, _data(cfg), min(50, ref_steps), device=device)  # warm-up
    ours = _ours(cfg, steps, device)
    ref = plain_loop(cfg, _data(cfg), ref_steps, device=device)
    ours2 = _ours(cfg, steps, device)  # twice, around the reference, to even out drift on a busy machine
    ours = (ours + ours2) / 2
    out = {"preset": preset.name, "steps": steps, "steps_per_s": round(ours, 1),
           "reference_steps_per_s": round(ref, 1), "ratio": round(ours / ref, 3), "threads": threads,
           "device": str(device), "torch": torch.__version__}
    if preset.kind == "image":
        flops = plain_loop(cfg, _data(cfg), 1, device=device, count_flops=True)
        peak = matmul_peak_gflops(device)
        out.update(gflop_per_step=round(flops / 1e9, 3), gflops=round(flops * ours / 1e9, 2),
                   reference_gflops=round(flops * ref / 1e9, 2), peak_gflops=round(peak, 1),
                   peak_fraction=round(flops * ours / 1e9 / peak, 4))
    if ui:
        free = _session_rate(cfg, 4.0, poll=False)
        polled = _session_rate(cfg, 4.0, poll=True)
        free2 = _session_rate(cfg, 4.0, poll=False)
        free = (free + free2) / 2
        out.update(session_steps_per_s=round(free, 1), polled_steps_per_s=round(polled, 1),
                   ui_overhead=round(max(0.0, 1 - polled / free), 4), poll_hz=POLL_HZ)
    return out


def _data(cfg):
    from .data import registry, toy2d

    if cfg.dataset in registry.IMAGE_SETS:
        return PlainImages(registry.image_dataset(cfg.dataset))
    return toy2d.get(cfg.dataset)


def matmul_peak_gflops(device=torch.device("cpu"), n: int = 1024, seconds: float = 0.5) -> float:
    """The machine's float32 matrix-multiply rate at the current thread count (best of a few runs)."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    a @ b
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best
