"""Start GAN Explorer from a checkout: `python launch.py --help`. After `pip install .` the same command
is `gan-explorer` (app.cli)."""

from __future__ import annotations

from app.cli import main, parse_args  # noqa: F401  (parse_args: launch.parse_args keeps working)

if __name__ == "__main__":
    main()
