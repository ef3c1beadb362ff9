"""Benchmarks (`multikd bench NAME`): speed measured side by side in one process, printed as tables.

Each benchmark registers itself with :func:`register_bench`; the CLI lists them. Benchmarks pin torch to
one thread unless they say otherwise, because the development machines have 2 cores and busy threads
distort timings.
"""
from __future__ import annotations

import importlib
from typing import Callable

BENCH_MODULES = ("multikd.bench.prepare", "multikd.bench.teacher", "multikd.bench.align", "multikd.bench.cost",
                 "multikd.distill.bench",
                 "multikd.export.bench")
_BENCHES: dict[str, tuple[str, Callable, Callable]] = {}


def register_bench(name: str, help: str, add_arguments: Callable = lambda p: None):
    """Decorator for ``run(args) -> int``; ``add_arguments(parser)`` adds its options."""

    def deco(fn):
        _BENCHES[name] = (help, add_arguments, fn)
        return fn

    return deco


def benches() -> dict[str, tuple[str, Callable, Callable]]:
    for m in BENCH_MODULES:
        importlib.import_module(m)
    return _BENCHES


def table(rows: list[list], header: list[str]) -> str:
    """A plain-text table (Markdown-compatible) for terminal output and reports."""
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in cells[1:]])
