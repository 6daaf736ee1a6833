"""The `gan-explorer` command (and `python launch.py`): parse arguments, build the Gradio app, serve it."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# the shipped models of a checkout (or of `pip install -e .`); a plain `pip install .` does not copy them
SWITCH_INTERVAL_S = 0.0005  # how often a thread holding the interpreter lets another run (Python: 5 ms)
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
    add_class_args(p)
    return p.parse_args(argv)


def add_class_args(p: argparse.ArgumentParser) -> None:
    """The flags of a class server (app.common.limits.ClassLimits has the defaults and their reasons)."""
    from app.common.limits import ClassLimits

    d = ClassLimits()
    c = p.add_argument_group("a class on one server")
    c.add_argument("--max-students", type=int, default=d.max_students,
                   help=f"visitors with a session at once; the next one reads 'The class is full' (default "
                        f"{d.max_students})")
    c.add_argument("--max-image-trainings", type=int, default=d.max_image_trainings,
                   help=f"image training sessions open at once (default {d.max_image_trainings})")
    c.add_argument("--idle-minutes", type=float, default=d.idle_minutes,
                   help=f"close a session untouched this long, freeing its place "
                        f"(default {d.idle_minutes:g})")
    c.add_argument("--quota-mb", type=float, default=d.quota_mb,
                   help=f"saved files one student may keep, in MB (default {d.quota_mb:g})")
    c.add_argument("--trainings-at-once", type=int, default=None,
                   help="trainings computing at once, the others wait their turn "
                        "(default: the cores but one)")
    c.add_argument("--queue-size", type=int, default=d.queue_size,
                   help=f"events waiting in the queue at once (default {d.queue_size})")
    c.add_argument("--teacher-password", default=os.environ.get("GAN_EXPLORER_TEACHER_PASSWORD"),
                   help="turn on the Teacher tab with this password (or set GAN_EXPLORER_TEACHER_PASSWORD)")
    c.add_argument("--auth", default=None, metavar="USER:PASSWORD",
                   help="ask every visitor for this user name and password (Gradio's login page)")


def class_limits(args: argparse.Namespace):
    """ClassLimits from the parsed flags (ValueError naming a flag that is out of range)."""
    from app.common.limits import ClassLimits

    return ClassLimits(max_students=args.max_students, max_image_trainings=args.max_image_trainings,
                       idle_minutes=args.idle_minutes, quota_mb=args.quota_mb,
                       trainings_at_once=args.trainings_at_once, queue_size=args.queue_size,
                       teacher_password=args.teacher_password or None)


def access(args: argparse.Namespace) -> tuple[str, str] | None:
    """The (user, password) of --auth; on an open address (--host 0.0.0.0 or --share) without it, a
    loud warning on stderr: anyone who can reach the server can use it."""
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep or not user or not password:
            raise SystemExit("error: --auth must be USER:PASSWORD")
        return user, password
    if args.share or args.host not in ("127.0.0.1", "localhost", "::1"):
        print("WARNING: the server is OPEN: anyone who can reach "
              f"{'its share link' if args.share else args.host} can use it and its CPU. "
              "Pass --auth USER:PASSWORD to ask for a login.", file=sys.stderr)
    return None


def checkpoints_dir(arg: str | None) -> Path:
    """--checkpoints; else the project's own folder when it is there; else ./checkpoints (a plain
    `pip install .` copies the code, not the checkpoints: run the command in the project's folder)."""
    if arg:
        return Path(arg).resolve()
    return PROJECT_CHECKPOINTS if PROJECT_CHECKPOINTS.is_dir() else Path("checkpoints").resolve()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        limits = class_limits(args)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    auth = access(args)
    data_dir = Path(args.data_dir).resolve()
    (data_dir / "tmp").mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(data_dir / "tmp")  # uploads stay inside the data dir
    ckpts = checkpoints_dir(args.checkpoints)
    os.environ.setdefault("GAN_EXPLORER_CHECKPOINTS", str(ckpts))  # the evaluators, read at import

    import torch

    torch.set_num_threads(1)  # each session trains in its own thread: one core each, no oversubscription
    # a training thread runs Python between its small tensor ops; with the default 5 ms switch interval a
    # request thread waits up to 5 ms for the interpreter at every op it runs (a render: dozens of ops)
    sys.setswitchinterval(SWITCH_INTERVAL_S)

    from app.server import build_app, launch_options

    demo = build_app(device=args.device, data_dir=data_dir, checkpoints_dir=ckpts, limits=limits)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth,
                **launch_options(data_dir, demo))
