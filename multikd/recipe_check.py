"""`multikd check` for recipes: schema, paths and names, before any run starts.

A recipe (``recipe.yaml``, or another YAML with ``name`` and ``data`` in a recipe folder) is loaded with
the same typed loader the commands use, so every unknown key, wrong type or bad setting shows up here
with its dotted name. Then the things a run would trip over later: the data card exists, the languages
are ones the front end knows, the model preset exists, and a distillation teacher folder exists.
Outputs a run writes itself (``data.prepared``) may be missing; that is not a problem.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from multikd.checks import Problem, register_checker
from multikd.errors import MultikdError


def _is_recipe(path: Path) -> bool:
    if path.is_dir():
        return (path / "recipe.yaml").is_file()
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return path.name == "recipe.yaml"  # a broken recipe is still a recipe: report the error
    return isinstance(data, dict) and "name" in data and "data" in data


def check_recipe(path: Path) -> list[Problem]:
    from multikd.models.config import PRESETS
    from multikd.recipe import load_recipe
    from multikd.text.languages import get_language

    path = Path(path)
    if path.is_dir():
        return [p for f in sorted(path.glob("*.y*ml")) if _is_recipe(f) for p in check_recipe(f)]
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(raw, dict) and "distill" in raw:  # each command's loader knows its sections
            from multikd.distill.recipe import load_distill_recipe

            recipe = load_distill_recipe(path)
        elif isinstance(raw, dict) and "vocoder" in raw:
            from multikd.vocoder.train import load_vocoder_recipe

            recipe = load_vocoder_recipe(path)
        else:
            recipe = load_recipe(path)
    except (MultikdError, yaml.YAMLError) as e:
        what = getattr(e, "what", str(e))
        return [Problem(getattr(e, "where", None) or where, None, what, getattr(e, "fix", "") or "")]
    problems: list[Problem] = []
    card = recipe.resolve(recipe.data.card)
    if not (card.is_file() or (card / "README.md").is_file()):
        problems.append(Problem(where, None, f"data.card {recipe.data.card!r} not found ({card})",
                                "fix the path (relative to the recipe); for the demo corpus render it first: "
                                "multikd corpus demo --out out/demo/corpus"))
    for lang in recipe.data.languages:
        try:
            get_language(lang)
        except MultikdError as e:
            problems.append(Problem(where, None, f"data.languages: {e.what}", e.fix or ""))
    model = getattr(recipe, "model", None)  # vocoder recipes have no acoustic model section
    if model is not None and model.preset not in PRESETS:
        problems.append(Problem(where, None, f"model.preset {model.preset!r} is unknown",
                                f"use one of {', '.join(PRESETS)}"))
    distill = getattr(recipe, "distill", None)
    if distill is not None:
        teacher = recipe.resolve(distill.teacher)
        if not (teacher / "config.json").is_file():
            problems.append(Problem(where, None, f"distill.teacher {distill.teacher!r} is not a model folder ({teacher})",
                                    "point it at an exported model (e.g. ../../pretrained/demo-teacher)"))
    return problems


register_checker("recipe", claims=_is_recipe)(check_recipe)
