"""The metric interface and its registry: every metric is a class registered under a name.

A metric scores one synthesized utterance (``hyp``), optionally against a natural recording of the same
sentence (``ref``), its text and its language. Audio is brought to :data:`EVAL_SR` before any metric
sees it, so every metric (and every judge model, which were all trained on 16 kHz speech) measures the
same band, and a 16 kHz reference (FLEURS, Common Voice) is compared fairly with 22.05 kHz synthesis.

Optional metrics whose package is missing do not fail: :meth:`Metric.score` returns
``{"skipped": "<why and how to install>"}``, never a made-up number.
"""
from __future__ import annotations

import logging
from typing import ClassVar

import numpy as np

from multikd.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["EVAL_SR", "Metric", "METRICS", "register_metric", "get_metric", "metric_names"]

# 16 kHz: the rate of the judge models (DNSMOS, resemblyzer, pocketsphinx) and of most low-resource
# corpora; the project's mels stop at 8 kHz anyway (AudioConfig.fmax), so nothing a model learned is lost.
EVAL_SR = 16000


class Metric:
    """Base class. Subclasses set the class attributes and implement :meth:`compute`.

    Attributes:
        name: registry key.
        keys: names of the numbers :meth:`compute` returns, each with its unit in :meth:`describe`.
        needs_ref: needs a natural reference recording.
        needs_text: needs the transcript.
        higher_is_better: direction of the headline key (``keys[0]``), for report tables.
    """

    name: ClassVar[str] = ""
    keys: ClassVar[tuple[str, ...]] = ()
    needs_ref: ClassVar[bool] = False
    needs_text: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = False

    def unavailable(self) -> str | None:
        """Why this metric cannot run here (a missing package, with the install command), else None."""
        return None

    def describe(self) -> str:
        """One paragraph: what is measured, on which frames, with which settings, in which unit."""
        raise NotImplementedError

    def skip_reason(self, text: str | None, lang: str | None) -> str | None:
        """Why this utterance cannot be scored (e.g. a language the judge does not know), else None."""
        return None

    def compute(self, hyp: np.ndarray, ref: np.ndarray | None, text: str | None, lang: str | None) -> dict:
        """Score one utterance.

        Args:
            hyp: synthesized waveform, float32 [T] in [-1, 1] at :data:`EVAL_SR`.
            ref: natural waveform [T'] at :data:`EVAL_SR`, or None when ``needs_ref`` is False.
        Returns:
            ``{key: float}`` for every key in :attr:`keys` (NaN where undefined), plus any diagnostics.
        """
        raise NotImplementedError

    def corpus_summary(self, rows: list[dict]) -> dict:
        """Corpus-level numbers that are not a mean of per-utterance values (e.g. pooled WER)."""
        return {}

    def score(self, hyp_wav: np.ndarray, hyp_sr: int, ref_wav: np.ndarray | None = None,
              ref_sr: int | None = None, text: str | None = None, lang: str | None = None) -> dict:
        """Resample to :data:`EVAL_SR` and :meth:`compute`, or say why the utterance was skipped.

        Args:
            hyp_wav: synthesized waveform [T] at ``hyp_sr`` Hz, float in [-1, 1].
            ref_wav: natural recording of the same text [T'] at ``ref_sr`` Hz (metrics with ``needs_ref``).
            text: transcript (metrics with ``needs_text``).
            lang: ISO 639-3 key of the language.
        Returns:
            ``{key: value}``, or ``{"skipped": reason}``.
        """
        reason = self.unavailable()
        if reason is None and self.needs_ref and ref_wav is None:
            reason = f"metric {self.name!r} needs a reference recording"
        if reason is None and self.needs_text and not (text and text.strip()):
            reason = f"metric {self.name!r} needs the transcript"
        if reason is None:
            reason = self.skip_reason(text, lang)
        if reason is not None:
            return {"skipped": reason}
        from multikd.audio.io import resample

        hyp = resample(np.asarray(hyp_wav, dtype=np.float32).reshape(-1), int(hyp_sr), EVAL_SR)
        ref = None
        if self.needs_ref:
            if ref_sr is None:
                raise ConfigError(f"metric {self.name!r}: ref_wav given without ref_sr",
                                  fix="pass the reference's sample rate in Hz")
            ref = resample(np.asarray(ref_wav, dtype=np.float32).reshape(-1), int(ref_sr), EVAL_SR)
        return self.compute(hyp, ref, text, lang)


METRICS: dict[str, type[Metric]] = {}
_instances: dict[str, Metric] = {}


def register_metric(cls: type[Metric]) -> type[Metric]:
    """Class decorator: make ``cls`` available under ``cls.name``.

    Raises:
        TypeError: not a :class:`Metric` subclass, no name/keys, or the name is taken.
    """
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise TypeError(f"{cls!r} is not a Metric subclass")
    if not cls.name or not cls.keys:
        raise TypeError(f"{cls.__name__} must set `name` and `keys`")
    if cls.name in METRICS and METRICS[cls.name] is not cls:
        raise TypeError(f"metric name {cls.name!r} already registered by {METRICS[cls.name].__name__}")
    METRICS[cls.name] = cls
    return cls


def _load_builtin() -> None:
    # Imported here so `import multikd.evaluate.base` stays light; the modules register on import.
    from multikd.evaluate import acoustic, judges  # noqa: F401


def metric_names() -> list[str]:
    """Every registered metric name, sorted."""
    _load_builtin()
    return sorted(METRICS)


def get_metric(name: str) -> Metric:
    """The shared instance of a registered metric (judge models load once per process).

    Raises:
        ConfigError: unknown name, listing the known ones.
    """
    _load_builtin()
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}", where="evaluate.metrics",
                          fix=f"use one of: {', '.join(sorted(METRICS))}")
    if name not in _instances:
        _instances[name] = METRICS[name]()
    return _instances[name]

