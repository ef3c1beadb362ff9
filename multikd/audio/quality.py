"""Quality gate for one utterance: reject bad audio with a countable reason, trim silence, level loudness.

A corpus preparer never drops a file silently: every rejection is an :class:`AudioRejected` whose
``reason`` is one :class:`Reject` code, so a report can count them::

    counts = collections.Counter()
    try:
        wav, info = preprocess(load_audio(path, cfg.sample_rate), cfg.sample_rate, cfg, where=path)
    except AudioRejected as e:
        counts[e.reason] += 1

Order of the checks (``preprocess``): empty → clipped (on the raw signal, before any gain hides it) →
silent → trim → too_short / too_long (on the trimmed length) → loudness normalisation.
"""
from __future__ import annotations

import enum
import logging

import numpy as np

from multikd.audio.config import AudioConfig
from multikd.errors import AudioError

log = logging.getLogger(__name__)

__all__ = ["Reject", "AudioRejected", "check", "trim_silence", "loudness_lufs", "normalize_loudness",
           "preprocess", "frame_rms_db"]


class Reject(str, enum.Enum):
    """Why an utterance was rejected. The value is the machine-readable code used in reports."""

    UNREADABLE = "unreadable"  # not decodable as audio (corrupt, unknown format, missing file)
    EMPTY = "empty"            # decodes to zero samples
    SILENT = "silent"          # loudest frame below AudioConfig.silence_dbfs
    CLIPPED = "clipped"        # more than AudioConfig.clip_max_fraction of samples at full scale
    TOO_SHORT = "too_short"    # shorter than AudioConfig.min_seconds after trimming
    TOO_LONG = "too_long"      # longer than AudioConfig.max_seconds after trimming

    def __str__(self) -> str:
        return self.value


# What a user can do about each reason; part of every error message.
_FIX = {
    Reject.UNREADABLE: "re-export the file as WAV or FLAC (e.g. `ffmpeg -i in out.wav`) or drop it from the corpus",
    Reject.EMPTY: "the file holds no samples: re-export it or drop it from the corpus",
    Reject.SILENT: "check the recording (muted or unplugged microphone) or lower audio.silence_dbfs",
    Reject.CLIPPED: "re-record at a lower input gain, or raise audio.clip_max_fraction to keep it",
    Reject.TOO_SHORT: "drop or merge the utterance, or lower audio.min_seconds",
    Reject.TOO_LONG: "split the utterance at pauses, or raise audio.max_seconds",
}


class AudioRejected(AudioError):
    """An utterance that cannot be used; ``reason`` is a :class:`Reject` code."""

    def __init__(self, reason: Reject, what: str, *, where: str | None = None, fix: str | None = None):
        self.reason = Reject(reason)
        super().__init__(f"[{self.reason.value}] {what}", where=where, fix=fix or _FIX[self.reason])


def frame_rms_db(wav: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """RMS level in dBFS of frames of ``frame_length`` samples taken every ``hop_length`` samples.

    Args:
        wav: float waveform [T] in [-1, 1].
    Returns:
        [n_frames] dBFS (a full-scale sine reads -3 dB); a signal shorter than one frame is one frame.
    """
    if len(wav) < frame_length:
        wav = np.pad(wav, (0, frame_length - len(wav)))
    frames = np.lib.stride_tricks.sliding_window_view(wav, frame_length)[::hop_length]
    power = np.mean(np.square(frames, dtype=np.float64), axis=1)
    return 10.0 * np.log10(np.maximum(power, 1e-20))


def check(wav: np.ndarray, sr: int, cfg: AudioConfig) -> tuple[Reject, str] | None:
    """Checks that need no trimming: empty, clipped, silent.

    Args:
        wav: float waveform [T] at ``sr`` Hz.
    Returns:
        ``(reason, human message)`` of the first failed check, or None if the signal passes.
    """
    if wav.size == 0:
        return Reject.EMPTY, "no samples"
    clipped = float(np.mean(np.abs(wav) >= cfg.clip_amplitude))
    if clipped > cfg.clip_max_fraction:
        return Reject.CLIPPED, (f"{clipped:.2%} of samples at |x| >= {cfg.clip_amplitude} "
                                f"(limit {cfg.clip_max_fraction:.2%})")
    loudest = float(frame_rms_db(wav, cfg.win_length, cfg.hop_length).max())
    if loudest < cfg.silence_dbfs:
        return Reject.SILENT, f"loudest frame at {loudest:.1f} dBFS (silence below {cfg.silence_dbfs} dBFS)"
    return None


def trim_silence(wav: np.ndarray, sr: int, cfg: AudioConfig) -> tuple[np.ndarray, tuple[int, int]]:
    """Cut leading and trailing silence, keeping ``cfg.trim_margin_s`` of it at each end.

    Silence is any frame more than ``cfg.trim_top_db`` below the loudest frame. Relative to the loudest
    frame (not absolute dBFS) so quiet but clean recordings are trimmed the same as loud ones.

    Args:
        wav: float waveform [T] at ``sr`` Hz.
    Returns:
        (trimmed wav [T'], (start, end) sample indices into ``wav``). A signal with no frame above the
        threshold is returned unchanged.
    """
    if wav.size == 0:
        return wav, (0, 0)
    frame, hop = cfg.win_length, cfg.hop_length
    db = frame_rms_db(wav, frame, hop)
    loud = np.flatnonzero(db > db.max() - cfg.trim_top_db)
    if loud.size == 0:
        return wav, (0, len(wav))
    margin = int(round(cfg.trim_margin_s * sr))
    start = max(0, int(loud[0]) * hop - margin)
    end = min(len(wav), int(loud[-1]) * hop + frame + margin)
    return wav[start:end], (start, end)


def loudness_lufs(wav: np.ndarray, sr: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4, gated) in LUFS; -inf for silence.

    BS.1770 weights frequencies like the ear (K-weighting) and gates out pauses, so two speakers
    normalised to one LUFS value sound equally loud, which peak or RMS normalisation does not give.
    Signals shorter than one 400 ms gating block are measured as if zero-padded to one block.
    """
    import pyloudnorm  # imported here: only the corpus preparer needs it

    block = 0.4
    if len(wav) < int(block * sr) + 1:
        wav = np.pad(wav, (0, int(block * sr) + 1 - len(wav)))
    with np.errstate(divide="ignore"):
        return float(pyloudnorm.Meter(sr, block_size=block).integrated_loudness(wav.astype(np.float64)))


def normalize_loudness(wav: np.ndarray, sr: int, cfg: AudioConfig) -> tuple[np.ndarray, dict]:
    """Scale ``wav`` to ``cfg.loudness_target_lufs``, never letting the peak exceed ``cfg.peak_limit_dbfs``.

    A plain gain (no compression), so the waveform's shape is untouched; when the target would push the
    peak over the limit the gain is lowered and ``info["peak_limited"]`` says by how much the target
    was missed.

    Returns:
        (scaled float32 wav [T], info with ``lufs_before``, ``lufs_after``, ``gain_db``, ``peak_limited``).
    """
    before = loudness_lufs(wav, sr)
    if not np.isfinite(before):
        return wav.astype(np.float32), {"lufs_before": before, "lufs_after": before, "gain_db": 0.0,
                                        "peak_limited": False}
    gain_db = cfg.loudness_target_lufs - before
    peak = float(np.max(np.abs(wav)))
    peak_db = 20.0 * np.log10(max(peak, 1e-20))
    limited = peak_db + gain_db > cfg.peak_limit_dbfs
    if limited:
        gain_db = cfg.peak_limit_dbfs - peak_db
    out = (wav * 10.0 ** (gain_db / 20.0)).astype(np.float32)
    # Loudness is scale-covariant (a gain of g dB moves it by exactly g dB), so no second measurement.
    return out, {"lufs_before": before, "lufs_after": before + gain_db, "gain_db": gain_db,
                 "peak_limited": bool(limited)}


def preprocess(wav: np.ndarray, sr: int, cfg: AudioConfig, *, where: str | None = None
               ) -> tuple[np.ndarray, dict]:
    """Check, trim and loudness-normalise one utterance.

    Args:
        wav: float mono waveform [T] at ``sr`` Hz (as returned by :func:`multikd.audio.io.load_audio`).
        where: file name or utterance id, used in error messages.
    Returns:
        (clean float32 wav [T'], info) where info holds ``seconds_in``, ``seconds``, ``trim`` (start, end
        samples into the input), ``lufs_before``, ``lufs_after``, ``gain_db``, ``peak_limited``.
    Raises:
        AudioRejected: with ``reason`` in :class:`Reject` (empty, clipped, silent, too_short, too_long).
    """
    wav = np.asarray(wav, dtype=np.float32)
    failed = check(wav, sr, cfg)
    if failed:
        raise AudioRejected(failed[0], failed[1], where=where)
    trimmed, (start, end) = trim_silence(wav, sr, cfg)
    seconds = len(trimmed) / sr
    if seconds < cfg.min_seconds:
        raise AudioRejected(Reject.TOO_SHORT, f"{seconds:.2f} s after trimming (minimum {cfg.min_seconds} s)",
                            where=where)
    if seconds > cfg.max_seconds:
        raise AudioRejected(Reject.TOO_LONG, f"{seconds:.2f} s after trimming (maximum {cfg.max_seconds} s)",
                            where=where)
    out, info = normalize_loudness(trimmed, sr, cfg)
    if info["peak_limited"]:
        log.debug("%s: loudness %.1f LUFS instead of %.1f (peak limit)", where or "utterance",
                  info["lufs_after"], cfg.loudness_target_lufs)
    return out, {"seconds_in": len(wav) / sr, "seconds": seconds, "trim": (start, end), **info}
