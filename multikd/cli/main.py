"""The one `multikd` console script.

Each subcommand lives in its own module under ``multikd/cli/`` (one module per command) that defines
``COMMAND`` (its name), ``HELP`` (one line for ``multikd --help``), ``add_arguments(parser)`` and
``run(args) -> int``. Modules are discovered, so adding a command never touches this file. Heavy imports
(torch, datasets) belong inside ``run`` so ``multikd --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from multikd import __version__
from multikd.errors import MultikdError

log = logging.getLogger("multikd")


def _command_modules():
    import multikd.cli as pkg

    mods = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_") or info.name == "main":
            continue
        mod = importlib.import_module(f"multikd.cli.{info.name}")
        if hasattr(mod, "COMMAND"):
            mods.append(mod)
    return sorted(mods, key=lambda m: m.COMMAND)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="multikd",
        description="Text-to-speech voices for low-resource languages by knowledge distillation "
        "from a multilingual teacher.",
    )
    parser.add_argument("--version", action="version", version=f"multikd {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for mod in _command_modules():
        p = sub.add_parser(mod.COMMAND, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except MultikdError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
