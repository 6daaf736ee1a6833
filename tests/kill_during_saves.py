"""Kill -9 a process in the middle of saving checkpoints, then check that every checkpoint left loads.

A child process saves the same checkpoint path over and over (`--saves` times); the parent waits for the
first `--after` saves, lets it run a random fraction of a save longer, kills it with SIGKILL and loads
every `.safetensors` file in the folder with `checkpoint.load` (and parses every model card). Repeated
`--trials` times. Prints one JSON line; exit status 0 when every file present loaded.

    python tests/kill_during_saves.py [--trials 5] [--saves 100] [--after 3] [--json] [--plain]

`--plain` saves without the temporary file and rename, as saves did before: some kills then leave a file
that does not load (or a model card that does not parse), which shows that the check can fail.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

MODEL = {"g_hidden": 256, "d_hidden": 256, "g_layers": 3, "d_layers": 3, "z_dim": 2}  # ~0.8 MB a file


def child(folder: str, saves: int, plain: bool = False) -> None:
    """Save `folder/m.safetensors` `saves` times, a training round between saves; 'saved i' after each.
    `plain` writes straight to the target as saves did before they were atomic (for comparison)."""
    import contextlib

    import torch

    from gan_core import atomic, checkpoint

    if plain:
        atomic.replacing = contextlib.contextmanager(lambda path: (yield path))
    from gan_core.training import TrainConfig, Trainer

    torch.set_num_threads(1)
    t = Trainer(TrainConfig(model=MODEL, eval_every=10**8))
    path = os.path.join(folder, "m.safetensors")
    for i in range(saves):
        t.advance()
        checkpoint.save(path, t, {"save": i})
        print(f"saved {i}", flush=True)


def trial(saves: int, after: int, rng: random.Random, plain: bool = False) -> dict:
    """One child killed after `after` saves plus a random moment; what the folder holds afterwards."""
    from gan_core import checkpoint

    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", folder, "--saves", str(saves)]
                             + (["--plain"] if plain else []),
                             stdout=subprocess.PIPE, text=True, env=env)
        done, t_last, gaps = 0, None, []
        while done < after:
            line = p.stdout.readline()
            if not line:
                break
            now = time.perf_counter()
            if t_last is not None:
                gaps.append(now - t_last)
            t_last, done = now, done + 1
        gap = sum(gaps) / len(gaps) if gaps else 0.01
        time.sleep(rng.uniform(0, 2 * gap))  # somewhere in the next save or two
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        rest = p.stdout.read().count("saved")
        p.stdout.close()
        files = sorted(os.listdir(folder))
        loaded, failed = [], []
        for name in files:
            path = os.path.join(folder, name)
            try:
                if name.endswith(".safetensors"):
                    checkpoint.load(path)
                    loaded.append(name)
                elif name.endswith(".json"):
                    json.loads(open(path).read())
                    loaded.append(name)
            except Exception as e:  # noqa: BLE001 - any failure to load is what this script looks for
                failed.append(f"{name}: {e}")
        return {"saves_before_kill": done + rest, "files": files, "loaded": loaded, "failed": failed,
                "killed_by": -p.returncode}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--saves", type=int, default=100)
    ap.add_argument("--after", type=int, default=3, help="saves to wait for before the kill")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--plain", action="store_true", help="save without the temporary file (the old way)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        child(a.child, a.saves, a.plain)
        return 0
    rng = random.Random(a.seed)
    trials = [trial(a.saves, a.after, rng, a.plain) for _ in range(a.trials)]
    ok = all(not t["failed"] and "m.safetensors" in t["loaded"] and t["killed_by"] == signal.SIGKILL
             for t in trials)
    out = {"ok": ok, "trials": len(trials), "saves_before_kill": [t["saves_before_kill"] for t in trials],
           "leftover_temporary_files": sum(n.endswith(".tmp") for t in trials for n in t["files"]),
           "failed": [f for t in trials for f in t["failed"]]}
    print(json.dumps(out) if a.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
