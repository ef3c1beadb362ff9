"""`multikd check` as a registry: each kind of contributed file registers a checker.

A checker says whether it claims a path and returns the problems it finds as :class:`Problem` rows
(``file:line: problem — fix``). Modules that register checkers are listed in ``CHECKER_MODULES`` so the
registry is filled on first use without import cycles.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

CHECKER_MODULES = ("multikd.text.lexicon", "multikd.data.cards", "multikd.recipe_check")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    problem: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.problem}" + (f" — {self.fix}" if self.fix else "")


@dataclass(frozen=True)
class Checker:
    name: str
    claims: Callable[[Path], bool]
    check: Callable[[Path], list[Problem]]


_CHECKERS: dict[str, Checker] = {}


def register_checker(name: str, claims: Callable[[Path], bool]):
    """Decorator: register ``fn(path) -> list[Problem]`` for the paths ``claims`` accepts."""

    def deco(fn: Callable[[Path], list[Problem]]):
        _CHECKERS[name] = Checker(name, claims, fn)
        return fn

    return deco


def checkers() -> dict[str, Checker]:
    for mod in CHECKER_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:  # a real import failure inside an existing module
                raise
    return _CHECKERS


def check_path(path: Path) -> tuple[list[str], list[Problem]]:
    """Check one path. A folder no checker claims is searched one level down.

    Returns (names of the checkers that ran, problems).
    """
    path = Path(path)
    if not path.exists():
        return [], [Problem(str(path), None, "no such file or folder", "check the path")]
    regs = checkers()
    ran, problems = [], []
    for c in regs.values():
        if c.claims(path):
            ran.append(c.name)
            problems += c.check(path)
    if not ran and path.is_dir():
        for child in sorted(path.iterdir()):
            if child.name.startswith("."):
                continue
            r, p = check_path(child) if any(c.claims(child) for c in regs.values()) or child.is_dir() else ([], [])
            ran += r
            problems += p
    return ran, problems
