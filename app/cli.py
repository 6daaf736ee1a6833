"""The `gan-explorer` command (and `python launch.py`): parse arguments, build the Gradio app, serve it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

# the shipped models of a checkout (or of `pip install -e .`); a plain `pip install .` does not copy them
PROJECT_CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="gan-explorer", description="Serve the GAN Explorer web app.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where models train")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link")
    p.add_argument("--data-dir", default="data", help="saved checkpoints and uploads (default ./data)")
    p.add_argument("--checkpoints", default=None,
                   help="the shipped checkpoints folder (default: the project's checkpoints/, or "
                        "./checkpoints when the package was installed without it)")
    return p.parse_args(argv)


def checkpoints_dir(arg: str | None) -> Path:
    """--checkpoints; else the project's own folder when it is there; else ./checkpoints (a plain
    `pip install .` copies the code, not the checkpoints: run the command in the project's folder)."""
    if arg:
        return Path(arg).resolve()
    return PROJECT_CHECKPOINTS if PROJECT_CHECKPOINTS.is_dir() else Path("checkpoints").resolve()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data_dir = Path(args.data_dir).resolve()
    (data_dir / "tmp").mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(data_dir / "tmp")  # uploads stay inside the data dir
    ckpts = checkpoints_dir(args.checkpoints)
    os.environ.setdefault("GAN_EXPLORER_CHECKPOINTS", str(ckpts))  # the evaluators, read at import

    import torch

    torch.set_num_threads(1)  # each session trains in its own thread: one core each, no oversubscription

    from app.server import build_app, launch_options

    demo = build_app(device=args.device, data_dir=data_dir, checkpoints_dir=ckpts)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, **launch_options(data_dir, demo))
