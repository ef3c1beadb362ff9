"""Score a list of (synthesized, reference, text, language) files with several metrics; summarise them.

This is what the evaluation report calls for each system × language cell. Files are read through
:func:`multikd.audio.io.load_audio` (any format soundfile reads, resampled to :data:`EVAL_SR`), so a bad
file raises the same typed :class:`multikd.errors.AudioError` as in corpus preparation, naming the file.
"""
from __future__ import annotations

import logging
import math
import os
from typing import Sequence

from tqdm.auto import tqdm

from multikd.evaluate.base import EVAL_SR, get_metric
from multikd.evaluate.stats import mean_ci

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_METRICS", "Pair", "evaluate_pairs"]

# The core metrics need no optional package; judges (dnsmos, speaker_sim, wer) are asked for by name.
DEFAULT_METRICS = ("mcd", "f0_rmse", "vuv_error", "duration")

Pair = tuple["str | os.PathLike", "str | os.PathLike | None", "str | None", "str | None"]


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def evaluate_pairs(pairs: Sequence[Pair], metrics: Sequence[str] = DEFAULT_METRICS, *,
                   ci_method: str = "bootstrap", level: float = 0.95, progress: bool = True
                   ) -> tuple[list[dict], dict]:
    """Score every pair with every metric.

    Args:
        pairs: ``(hyp_path, ref_path, text, lang)`` per utterance; ``ref_path``/``text``/``lang`` may be
            None when no chosen metric needs them (a metric that does reports the utterance skipped).
        metrics: registered metric names (:func:`multikd.evaluate.metric_names`).
        ci_method: ``"bootstrap"`` or ``"t"`` (:func:`multikd.evaluate.stats.mean_ci`).
        level: confidence level of the intervals.
    Returns:
        ``(rows, summary)``. ``rows``: one dict per pair with ``hyp``, ``ref``, ``text``, ``lang`` and every
        number the metrics returned (``mcd_db``, ``wer`` …); a metric that skipped the pair adds
        ``"<metric>_skipped": reason``. ``summary``: ``{"metrics": {name: {"description", "keys",
        "higher_is_better", "skipped": {reason: count}}}, "values": {key: mean_ci(...)}, "corpus":
        {extra corpus-level numbers, e.g. wer_pooled}, "n_pairs": N}``.
    Raises:
        ConfigError: an unknown metric name. AudioError: an unreadable file.
    """
    from multikd.audio.io import load_audio

    chosen = [get_metric(name) for name in metrics]
    rows: list[dict] = []
    skipped: dict[str, dict[str, int]] = {m.name: {} for m in chosen}
    for hyp_path, ref_path, text, lang in tqdm(pairs, desc="evaluate", unit="utt", disable=not progress):
        hyp = load_audio(hyp_path, EVAL_SR)
        ref = load_audio(ref_path, EVAL_SR) if ref_path is not None else None
        row: dict = {"hyp": os.fspath(hyp_path), "ref": os.fspath(ref_path) if ref_path is not None else None,
                     "text": text, "lang": lang}
        for m in chosen:
            out = m.score(hyp, EVAL_SR, ref, EVAL_SR if ref is not None else None, text=text, lang=lang)
            if "skipped" in out:
                row[f"{m.name}_skipped"] = out["skipped"]
                skipped[m.name][out["skipped"]] = skipped[m.name].get(out["skipped"], 0) + 1
            else:
                row.update(out)
        rows.append(row)

    values: dict[str, dict] = {}
    corpus: dict[str, float] = {}
    for m in chosen:
        for key in m.keys:
            col = [r.get(key) for r in rows if _is_number(r.get(key))]
            if col:
                values[key] = mean_ci(col, level=level, method=ci_method)
        corpus.update(m.corpus_summary(rows))
    for name, reasons in skipped.items():
        for reason, count in reasons.items():
            log.warning("metric %s skipped %d of %d pairs: %s", name, count, len(rows), reason)
    summary = {
        "n_pairs": len(rows),
        "metrics": {m.name: {"description": m.describe(), "keys": list(m.keys),
                             "higher_is_better": m.higher_is_better, "skipped": skipped[m.name]}
                    for m in chosen},
        "values": values,
        "corpus": {k: v for k, v in corpus.items() if not (isinstance(v, float) and math.isnan(v))},
    }
    return rows, summary
