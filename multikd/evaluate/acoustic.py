"""Reference-based acoustic metrics: MCD with DTW, log-F0 RMSE, V/UV error, duration error; and pitch.

All of them share one analysis per utterance (WORLD at :data:`EVAL_SR`, 5 ms frames) and, for a pair,
one DTW path, computed once and cached, so asking for MCD, F0 and V/UV costs one analysis, not three.

Analysis of one waveform (16 kHz, after leading/trailing silence is trimmed at 40 dB below the loudest
frame, 50 ms margin kept — the padding a synthesizer adds is not part of the utterance):
  * F0: WORLD dio + stonemask, 5 ms frame period, search range 50–800 Hz (AudioConfig.f0_min/f0_max).
  * Spectral envelope: WORLD CheapTrick (FFT 1024 at 16 kHz), floored at 80 dB below the utterance's
    loudest envelope value (:data:`ENVELOPE_FLOOR_DB`).
  * Mel-cepstrum: order 24 (c1..c24 used, c0 = gain excluded), all-pass α = 0.41 (the mel fit at 16 kHz),
    amplitude convention of SPTK ``mcep`` (see :mod:`multikd.evaluate.mcep`).
Pair: DTW (librosa, Euclidean cost, steps (1,1) (1,0) (0,1)) between the c1..c24 sequences of hypothesis
and reference; every metric that compares frames uses this one path.
"""
from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from multikd.evaluate.base import EVAL_SR, Metric, register_metric
from multikd.evaluate.mcep import envelope_to_mcep, mcep_alpha

log = logging.getLogger(__name__)

__all__ = ["FRAME_PERIOD_MS", "MCEP_ORDER", "ENVELOPE_FLOOR_DB", "UtteranceAnalysis", "PairAnalysis",
           "analyse", "analyse_cached", "analyse_pair", "MCD", "F0RMSE", "VUVError", "DurationError", "Pitch"]

# 5 ms: the frame period of WORLD-based vocoders and of the MCD literature; finer than the 11.6 ms mel
# hop so that DTW can align phones that differ by a single mel frame.
FRAME_PERIOD_MS = 5.0
# 24 coefficients after c0: the common MCD setting for 16-22 kHz speech (c0 is overall gain, which
# loudness normalisation makes meaningless, so it is left out).
MCEP_ORDER = 24
# Power floor of the envelope relative to the utterance's maximum. Log-spectral distances are dominated
# by bands nobody hears when those bands are near zero: a 16 -> 22.05 -> 16 kHz resampling round trip
# gave 1.8-2.2 dB MCD (its anti-alias stopband above 7.6 kHz is ~-100 dB), and a 6 kHz low-pass scored
# 8-9 dB, above white noise at 0 dB SNR. At -80 dB (below the noise floor of real recordings, within
# 16-bit range) the round trip gives 0.03-0.4 dB while noise and low-pass still rank monotonically
# (tests/test_metrics.py); at -60 dB real degradations started to be flattened.
ENVELOPE_FLOOR_DB = 80.0
# The conventional MCD constant (Kubichek 1993): (10 / ln 10) · sqrt(2 Σ Δc²). On amplitude cepstra it is
# half the RMS difference of the (mel-warped, truncated) log spectra in dB; published MCDs use it so.
_MCD_DB = 10.0 / np.log(10.0) * np.sqrt(2.0)
# F0 differences in cents (1200 per octave), a perceptual unit independent of the speaker's register.
# Octave errors are kept in the RMSE rather than filtered out as "gross errors", so they show.
_CENTS_PER_OCTAVE = 1200.0


@dataclass(frozen=True)
class UtteranceAnalysis:
    """WORLD analysis of one trimmed utterance at :data:`EVAL_SR`.

    Attributes:
        f0: float64 [n_frames] in Hz, 0 where unvoiced; frame i at i · 5 ms.
        mcep: float64 [n_frames, MCEP_ORDER + 1] mel-cepstrum (natural-log amplitude units).
        seconds: duration after trimming, in seconds.
    """

    f0: np.ndarray
    mcep: np.ndarray
    seconds: float

    @property
    def voiced(self) -> np.ndarray:
        """bool [n_frames]."""
        return self.f0 > 0


@dataclass(frozen=True)
class PairAnalysis:
    """Hypothesis and reference analyses and their DTW path.

    Attributes:
        path: int [L, 2], rows (hyp_frame, ref_frame), monotonic from (0, 0) to (N_hyp - 1, N_ref - 1).
    """

    hyp: UtteranceAnalysis
    ref: UtteranceAnalysis
    path: np.ndarray


def _trim(wav: np.ndarray) -> np.ndarray:
    from multikd.audio.config import AudioConfig
    from multikd.audio.quality import trim_silence

    return trim_silence(wav, EVAL_SR, AudioConfig(sample_rate=EVAL_SR))[0]


def analyse(wav: np.ndarray) -> UtteranceAnalysis:
    """WORLD analysis of a waveform at :data:`EVAL_SR` (see the module docstring for every setting).

    Args:
        wav: float [T] in [-1, 1] at 16 kHz.
    """
    import pyworld as pw

    from multikd.audio.config import AudioConfig

    cfg = AudioConfig()
    x = np.ascontiguousarray(_trim(np.asarray(wav, dtype=np.float32)), dtype=np.float64)
    f0, t = pw.dio(x, EVAL_SR, f0_floor=cfg.f0_min, f0_ceil=cfg.f0_max, frame_period=FRAME_PERIOD_MS)
    f0 = pw.stonemask(x, f0, t, EVAL_SR)
    envelope = pw.cheaptrick(x, f0, t, EVAL_SR)  # [n_frames, 513] power
    envelope = np.maximum(envelope, envelope.max() * 10.0 ** (-ENVELOPE_FLOOR_DB / 10.0))
    mcep = envelope_to_mcep(envelope, MCEP_ORDER, mcep_alpha(EVAL_SR))
    return UtteranceAnalysis(f0=np.asarray(f0), mcep=mcep, seconds=len(x) / EVAL_SR)


def _digest(wav: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(wav, dtype=np.float32).tobytes(), digest_size=16).digest()


# A few recent pairs: evaluate_pairs asks several metrics about the same pair one after another.
_CACHE_SIZE = 8
_pair_cache: "OrderedDict[tuple[bytes, bytes], PairAnalysis]" = OrderedDict()
_utt_cache: "OrderedDict[bytes, UtteranceAnalysis]" = OrderedDict()


def _cached(cache: OrderedDict, key, make):
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = cache[key] = make()
    if len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
    return value


def analyse_cached(wav: np.ndarray) -> UtteranceAnalysis:
    """:func:`analyse`, memoised on the waveform's content."""
    return _cached(_utt_cache, _digest(wav), lambda: analyse(wav))


def analyse_pair(hyp: np.ndarray, ref: np.ndarray) -> PairAnalysis:
    """Analyse both waveforms (16 kHz) and align them by DTW on c1..c24; memoised on their content."""
    import librosa

    def make() -> PairAnalysis:
        h, r = analyse_cached(hyp), analyse_cached(ref)
        _, wp = librosa.sequence.dtw(X=h.mcep[:, 1:].T, Y=r.mcep[:, 1:].T, metric="euclidean")
        return PairAnalysis(hyp=h, ref=r, path=np.ascontiguousarray(wp[::-1]))

    return _cached(_pair_cache, (_digest(hyp), _digest(ref)), make)


def _common_settings() -> str:
    return (f"WORLD analysis at {EVAL_SR} Hz after trimming edge silence (40 dB), {FRAME_PERIOD_MS:g} ms "
            f"frames, dio+stonemask F0 (50-800 Hz); DTW on mel-cepstra c1..c{MCEP_ORDER} "
            f"(alpha {mcep_alpha(EVAL_SR):.3f}, CheapTrick envelope floored {ENVELOPE_FLOOR_DB:g} dB below "
            "its maximum) of hypothesis vs reference")


@register_metric
class MCD(Metric):
    """Mel-cepstral distortion in dB along the DTW path.

    MCD = mean over path pairs (i, j) of (10 / ln 10) · sqrt(2 · Σ_{d=1..24} (c̃_d^hyp[i] − c̃_d^ref[j])²),
    with c̃ the order-24 mel-cepstrum (α 0.41 at 16 kHz, c0 excluded) of WORLD CheapTrick envelopes
    (floored 80 dB below their maximum), amplitude convention. 0 for a file against itself.
    """

    name = "mcd"
    keys = ("mcd_db",)
    needs_ref = True

    def describe(self) -> str:
        return (f"MCD (dB, lower is better): mean over DTW-aligned frame pairs of (10/ln10)·sqrt(2·Σ Δc_d²), "
                f"d = 1..{MCEP_ORDER} (c0 excluded), mel-cepstrum of the amplitude envelope (SPTK mcep "
                f"convention; half of sp2mc-on-power values). {_common_settings()}.")

    def compute(self, hyp, ref, text, lang) -> dict:
        pair = analyse_pair(hyp, ref)
        diff = pair.hyp.mcep[pair.path[:, 0], 1:] - pair.ref.mcep[pair.path[:, 1], 1:]
        per_frame = _MCD_DB * np.sqrt(np.sum(diff * diff, axis=1))
        return {"mcd_db": float(per_frame.mean()), "mcd_frames": int(len(per_frame))}


@register_metric
class F0RMSE(Metric):
    """RMSE of log-F0 in cents over DTW pairs voiced in both: sqrt(mean((1200 · log2(f_hyp / f_ref))²))."""

    name = "f0_rmse"
    keys = ("f0_rmse_cents",)
    needs_ref = True

    def describe(self) -> str:
        return ("log-F0 RMSE (cents, 100 = one semitone; lower is better) over DTW-aligned frame pairs "
                "voiced in both; NaN when no pair is voiced in both (counted as missing in summaries). "
                f"{_common_settings()}.")

    def compute(self, hyp, ref, text, lang) -> dict:
        pair = analyse_pair(hyp, ref)
        fh, fr = pair.hyp.f0[pair.path[:, 0]], pair.ref.f0[pair.path[:, 1]]
        both = (fh > 0) & (fr > 0)
        if not both.any():
            return {"f0_rmse_cents": float("nan"), "f0_voiced_pairs": 0}
        cents = _CENTS_PER_OCTAVE * np.log2(fh[both] / fr[both])
        return {"f0_rmse_cents": float(np.sqrt(np.mean(cents * cents))), "f0_voiced_pairs": int(both.sum())}


@register_metric
class VUVError(Metric):
    """Fraction of DTW pairs whose voicing decisions (dio F0 > 0) disagree."""

    name = "vuv_error"
    keys = ("vuv_error",)
    needs_ref = True

    def describe(self) -> str:
        return ("V/UV error rate (fraction 0-1, lower is better): share of DTW-aligned frame pairs where one "
                f"side is voiced and the other is not. {_common_settings()}.")

    def compute(self, hyp, ref, text, lang) -> dict:
        pair = analyse_pair(hyp, ref)
        vh, vr = pair.hyp.voiced[pair.path[:, 0]], pair.ref.voiced[pair.path[:, 1]]
        return {"vuv_error": float(np.mean(vh != vr))}


@register_metric
class DurationError(Metric):
    """Speaking-rate error: |ln(hyp duration / ref duration)| of the edge-trimmed utterances.

    A symmetric log ratio, so 20 % too fast and 20 % too slow count (nearly) the same; 0.1 ≈ 10 %.
    Also reports the ratios themselves and the ratio of voiced time (a proxy for vowel lengths).
    """

    name = "duration"
    keys = ("duration_log_error", "duration_ratio", "voiced_ratio")
    needs_ref = True

    def describe(self) -> str:
        return ("Duration error: |ln(T_hyp / T_ref)| (0 = same length; 0.1 ≈ 10 %), T = length after "
                "trimming edge silence at 40 dB below the loudest frame; duration_ratio = T_hyp / T_ref; "
                "voiced_ratio = voiced time of hyp / ref (WORLD dio, 5 ms frames). Lower error is better.")

    def compute(self, hyp, ref, text, lang) -> dict:
        h, r = analyse_cached(hyp), analyse_cached(ref)
        ratio = h.seconds / r.seconds
        vr = int(r.voiced.sum())
        return {"duration_log_error": float(abs(np.log(ratio))), "duration_ratio": float(ratio),
                "voiced_ratio": float(h.voiced.sum() / vr) if vr else float("nan"),
                "hyp_seconds": float(h.seconds), "ref_seconds": float(r.seconds)}


@register_metric
class Pitch(Metric):
    """Reference-free pitch summary of the hypothesis: median F0 and voiced fraction."""

    name = "pitch"
    keys = ("f0_median_hz", "voiced_fraction")
    higher_is_better = False

    def describe(self) -> str:
        return ("Pitch summary (no reference): median F0 in Hz over voiced frames and the voiced fraction "
                f"of frames, WORLD dio+stonemask at {EVAL_SR} Hz, {FRAME_PERIOD_MS:g} ms frames, edge silence "
                "trimmed. A sanity check of a voice (typical adult male ~85-180 Hz, female ~165-255 Hz).")

    def compute(self, hyp, ref, text, lang) -> dict:
        a = analyse_cached(hyp)
        voiced = a.f0[a.voiced]
        return {"f0_median_hz": float(np.median(voiced)) if voiced.size else float("nan"),
                "voiced_fraction": float(a.voiced.mean()) if a.f0.size else float("nan")}
