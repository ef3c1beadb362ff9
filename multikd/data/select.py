"""Selecting the rows of a loaded corpus that a run uses: languages, speakers, a seeded minutes budget.

The minutes subset is *nested*: with the same seed, the 5-minute subset is a prefix of the 15-minute one,
which is a prefix of the 60-minute one, so a data-efficiency curve compares like with like.
Selection is not rejection: rows left out by choice are counted separately from rows that fail checks.
"""
from __future__ import annotations

import io
import logging
import random
from dataclasses import dataclass

from multikd.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class Selection:
    indices: list[int]  # rows of the source dataset, in source order
    total: int  # rows in the source
    excluded_language: int = 0
    excluded_speaker: int = 0
    excluded_budget: int = 0
    minutes_selected: float | None = None  # by source durations, when a budget was applied


def audio_seconds(audio: dict) -> float | None:
    """Duration of an undecoded ``Audio(decode=False)`` value from its header; None if unreadable."""
    import soundfile as sf

    try:
        if audio.get("bytes"):
            info = sf.info(io.BytesIO(audio["bytes"]))
        elif audio.get("path"):
            info = sf.info(audio["path"])
        else:
            return None
    except (RuntimeError, OSError, sf.LibsndfileError):
        return None  # unreadable: the preparer rejects it with its reason
    return info.frames / info.samplerate if info.samplerate else None


def select_rows(ds, *, languages=(), speakers=(), minutes: float | None = None, seed: int = 0) -> Selection:
    """Row indices of ``ds`` (canonical columns) to prepare."""
    langs = list(ds["language"])
    spk = list(ds["speaker"])
    total = len(langs)
    sel = Selection(indices=[], total=total)
    keep = []
    for i in range(total):
        if languages and langs[i] not in languages:
            sel.excluded_language += 1
        elif speakers and spk[i] not in speakers:
            sel.excluded_speaker += 1
        else:
            keep.append(i)
    missing = sorted(set(languages) - set(langs))
    if missing:
        raise ConfigError(f"language(s) {', '.join(missing)} not in the corpus (it has {', '.join(sorted(set(langs)))})",
                          fix="fix data.languages")
    if minutes is None:
        sel.indices = keep
        return sel
    if minutes <= 0:
        raise ConfigError(f"data.minutes must be positive, got {minutes}")
    durations = list(ds["duration"]) if "duration" in ds.column_names else [None] * total
    by_lang: dict[str, list[int]] = {}
    for i in keep:
        by_lang.setdefault(langs[i], []).append(i)
    chosen: list[int] = []
    total_s = 0.0
    for lang, idx in sorted(by_lang.items()):
        order = list(idx)
        random.Random(f"{seed}:{lang}").shuffle(order)  # per-language stream: adding a language changes nothing else
        budget, used = minutes * 60.0, 0.0
        for i in order:
            if used >= budget:
                break
            d = durations[i] if durations[i] else audio_seconds(ds[i]["audio"])
            chosen.append(i)
            used += d or 0.0  # unreadable rows are still chosen, so the preparer reports them
        if used < budget:
            log.warning("%s: only %.1f of the %.1f minutes asked for exist", lang, used / 60, minutes)
        total_s += used
    sel.indices = sorted(chosen)
    sel.excluded_budget = len(keep) - len(chosen)
    sel.minutes_selected = total_s / 60.0
    return sel
