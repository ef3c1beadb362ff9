"""Recipes: the one config of a run (``recipes/<name>/recipe.yaml``), as typed dataclasses.

Sections grow with the pipeline; today a recipe says which data to prepare and how::

    name: demo-target-cat-15min
    data:
      card: ../../out/demo/corpus/README.md   # relative to this file
      split: train
      languages: [cat]
      minutes: 15          # a fixed, seeded subset per language (5 ⊂ 15 ⊂ 60 with the same seed)
      seed: 0
    audio:
      sample_rate: 22050
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from multikd.audio.config import AudioConfig
from multikd.config import load_config


@dataclass
class DataSelection:
    card: str  # data card path (or a corpus folder holding README.md), relative to the recipe
    split: str | None = None  # the card's split to load; None = all rows the source gives
    languages: list[str] = field(default_factory=list)  # ISO 639-3 codes to keep; empty = all
    speakers: list[str] = field(default_factory=list)  # speaker names to keep; empty = all
    minutes: float | None = None  # per-language budget of a seeded subset; None = everything
    seed: int = 0
    allow_unlicensed: bool = False  # a corpus without a licence is refused unless this is set


@dataclass
class Recipe:
    name: str
    data: DataSelection
    audio: AudioConfig = field(default_factory=AudioConfig)
    base_dir: Path = field(default=Path("."), init=False, repr=False)

    def resolve(self, path: str | Path) -> Path:
        """A path from the recipe, relative to the recipe's folder unless absolute."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    recipe = load_config(Recipe, path, overrides)
    recipe.base_dir = Path(path).resolve().parent
    return recipe
