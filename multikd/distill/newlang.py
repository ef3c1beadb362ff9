"""A new language (and speaker) for the student: merged symbols, new embedding rows, unseen-phone report.

- Symbols: the target language's phones are *appended* to the teacher's table (``SymbolTable.merge``), so
  every teacher id keeps its row.
- New phone rows: the input embedding is ``id row + W_f · features``. The feature projection already gives
  an unseen phone a meaningful part; its id row (which the teacher never trained) starts as the
  distance-weighted mean (weights ``1 / (d + 0.1)``) of the id rows of its :data:`K_NEAREST` nearest teacher
  phones by articulatory feature distance, so it also inherits what the teacher learned beyond features.
- Language row: the weighted mean of teacher language rows — uniform over ``distill.init_languages`` when
  given, else weighted by phone-inventory overlap (Jaccard) with each teacher language's inventory (from
  ``distill.source_prepared``), else uniform over all teacher languages.
- Speaker row: a speaker the teacher knows keeps its row; a new one starts from the mean of
  ``distill.init_speakers`` or of the :data:`K_NEAREST` teacher speakers closest in mean log-F0.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import torch

from multikd.errors import ConfigError
from multikd.models.vocab import K_NEAREST, neighbour_weights
from multikd.text import features
from multikd.text.symbols import SymbolTable

log = logging.getLogger(__name__)



def merge_symbols(teacher_symbols: SymbolTable, phones: list[str]) -> tuple[SymbolTable, list[str]]:
    """The student table: the teacher's, with ``phones`` it lacks appended. Returns (table, added)."""
    table = SymbolTable.from_dict(teacher_symbols.to_dict())
    added = table.merge(phones)
    return table, added


def unseen_phone_report(added: list[str], counts: Counter, teacher_symbols: SymbolTable) -> list[dict]:
    """Per new phone: its count in the target data and its nearest teacher phones (feature distance)."""
    return [{"phone": p, "count": int(counts.get(p, 0)),
             "nearest": [{"phone": q, "distance": round(d, 3)}
                         for q, d in features.nearest(p, teacher_symbols.phones, k=K_NEAREST)]}
            for p in added]


def new_phone_weights(report: list[dict], symbols: SymbolTable) -> dict[int, dict[int, float]]:
    """Student id of each new phone → {teacher id: weight} (weights sum to 1); phones with no
    same-kind neighbour are absent (they keep the random row)."""
    out = {}
    for row in report:
        near = row["nearest"]
        if near:
            w = neighbour_weights([n["distance"] for n in near])
            out[symbols.id(row["phone"])] = {symbols.id(n["phone"]): x for n, x in zip(near, w)}
    return out


def inventory_overlap(target: set[str], inventories: dict[str, set[str]]) -> dict[str, float]:
    """Jaccard overlap of the target inventory with each language's, normalised to sum to 1."""
    raw = {lang: len(target & inv) / max(len(target | inv), 1) for lang, inv in inventories.items()}
    total = sum(raw.values())
    if total == 0:
        return {lang: 1.0 / len(raw) for lang in raw}
    return {lang: v / total for lang, v in raw.items()}


def language_weights(target_phones: set[str], teacher_languages: list[str], init_languages: list[str],
                     inventories: dict[str, set[str]]) -> dict[str, float]:
    """Teacher language → weight of its row in the new language's initial row (see the module docstring)."""
    unknown = [lang for lang in init_languages if lang not in teacher_languages]
    if unknown:
        raise ConfigError(f"distill.init_languages {unknown} are not teacher languages",
                          fix=f"the teacher speaks: {', '.join(teacher_languages)}")
    if init_languages:
        return {lang: 1.0 / len(init_languages) for lang in init_languages}
    known = {lang: inv for lang, inv in inventories.items() if lang in teacher_languages}
    if known:
        return inventory_overlap(target_phones, known)
    return {lang: 1.0 / len(teacher_languages) for lang in teacher_languages}


def speaker_weights(speaker: str, pitch: dict | None, teacher_norm, init_speakers: list[str]) -> dict[str, float]:
    """Teacher speaker → weight for a new speaker's row."""
    if init_speakers:
        unknown = [s for s in init_speakers if s not in teacher_norm.speakers]
        if unknown:
            raise ConfigError(f"distill.init_speakers {unknown} are not teacher speakers")
        return {s: 1.0 / len(init_speakers) for s in init_speakers}
    voiced = {s: st["log_mean"] for s, st in teacher_norm.pitch.items() if st}
    if not pitch or not voiced:
        return {s: 1.0 / len(teacher_norm.speakers) for s in teacher_norm.speakers}
    near = sorted(voiced, key=lambda s: (abs(voiced[s] - pitch["log_mean"]), s))[:K_NEAREST]
    return {s: 1.0 / len(near) for s in near}


@torch.no_grad()
def fill_rows(weight: torch.Tensor, rows: dict[int, dict[int, float]]) -> None:
    """``weight[i] = Σ_j w_ij · weight[j]`` for each new row i (sources are rows already transferred)."""
    for i, sources in rows.items():
        weight[i] = sum(w * weight[j] for j, w in sources.items())


def write_report(path: Path, phones: list[dict], languages: dict, speakers: dict) -> None:
    """``unseen_phones.json`` in the run folder, and one log line per unseen phone."""
    for row in phones:
        near = ", ".join(f"{n['phone']} ({n['distance']:.2f})" for n in row["nearest"]) or "none"
        log.info("unseen phone %s ×%d — nearest teacher phones: %s", row["phone"], row["count"], near)
    Path(path).write_text(json.dumps({"unseen_phones": phones, "language_init": languages,
                                      "speaker_init": speakers}, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")
