"""Evaluation metrics: a registry of metrics with one interface, corpus summaries with 95 % CIs, and cost.

Metrics (``metric_names()``), all scored at 16 kHz (:data:`EVAL_SR`):
  * core, reference-based, no optional package: ``mcd`` (dB), ``f0_rmse`` (cents), ``vuv_error``
    (fraction), ``duration`` (|log ratio|); reference-free: ``pitch`` (median F0 Hz, voiced fraction);
  * optional judges pretrained on real speech (extra ``[eval]``): ``dnsmos``, ``speaker_sim``, ``wer``
    (English, pocketsphinx). Missing packages make them report ``{"skipped": reason}``.

Typical use::

    from multikd.evaluate import evaluate_pairs, get_metric
    rows, summary = evaluate_pairs([(hyp_wav, ref_wav, text, "eng"), ...], metrics=["mcd", "wer"])
    get_metric("mcd").score(hyp, 22050, ref, 16000)     # -> {"mcd_db": 5.3, "mcd_frames": 812}

Cost: :func:`model_cost` (parameters, bytes) and :func:`measure_rtf` (CPU real-time factor).
Metric modules load on first use, so ``import multikd.evaluate`` loads neither librosa nor a judge model.
"""
from __future__ import annotations

from multikd.evaluate.base import EVAL_SR, METRICS, Metric, get_metric, metric_names, register_metric
from multikd.evaluate.cost import measure_rtf, model_cost
from multikd.evaluate.pairs import DEFAULT_METRICS, evaluate_pairs
from multikd.evaluate.stats import mean_ci

__all__ = ["EVAL_SR", "METRICS", "Metric", "get_metric", "metric_names", "register_metric", "mean_ci",
           "measure_rtf", "model_cost", "evaluate_pairs", "DEFAULT_METRICS", "describe_metrics"]


def describe_metrics(names=None) -> dict[str, str]:
    """``{name: describe()}`` for the given (default: all registered) metrics, for report method sections."""
    return {n: get_metric(n).describe() for n in (names or metric_names())}
