"""The ``python -m convergio`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from convergio.host import AppLoadError, EmbeddedHost, EngineConfig, HostConfig
from convergio.settings import SettingsError, load_settings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m convergio", description="Convergio Core command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="run a Functions app on the embedded Durable host")
    start.add_argument(
        "--app",
        type=Path,
        default=Path("function_app.py"),
        help="the app's function_app.py (default: ./function_app.py)",
    )
    start.add_argument("--port", type=int, default=7071, help="port on 127.0.0.1 (0: any free one)")
    start.add_argument(
        "--home", type=Path, default=None, help="state directory (default: $CONVERGIO_HOME or .convergio)"
    )
    return parser


def _start(args: argparse.Namespace) -> int:
    settings = load_settings(folder=args.app.resolve().parent)
    config = HostConfig(
        app=args.app,
        home=args.home or settings.home,
        port=args.port,
        engine=EngineConfig(
            activity_concurrency=settings.activity_concurrency,
            keep_alive=settings.keep_alive_sessions,
            verify_replay=settings.replay_verify,
        ),
    )
    EmbeddedHost(config).serve()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _start(args)
    except (SettingsError, AppLoadError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
