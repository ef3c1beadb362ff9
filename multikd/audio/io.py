"""Reading and writing audio: every source becomes float32 mono at the requested rate, or a typed error.

Sources a corpus can hand us: a path, raw encoded bytes, or a Hugging Face ``Audio`` value — either
``Audio(decode=False)``'s ``{"path", "bytes"}`` or a decoded ``{"array", "sampling_rate"}``. Decoding goes
through soundfile (libsndfile: WAV, FLAC, OGG/Opus, MP3 and more) so no FFmpeg is needed.
"""
from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any, Union

import numpy as np
import soundfile as sf
import soxr

from multikd.audio.quality import AudioRejected, Reject

log = logging.getLogger(__name__)

__all__ = ["AudioSource", "load_audio", "save_wav", "resample"]

AudioSource = Union[str, os.PathLike, bytes, bytearray, dict]


def resample(wav: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample with soxr's high-quality mode; output length is ``round(len * target_sr / orig_sr)``.

    soxr HQ is band-limited (no aliasing of 16 kHz sources' 8 kHz edge into the mel bands) and runs at
    hundreds of times real time, so it never shows in corpus preparation time.

    Args:
        wav: float waveform [T] at ``orig_sr`` Hz.
    Returns:
        float32 waveform [T'] at ``target_sr`` Hz.
    """
    if orig_sr == target_sr or wav.size == 0:
        return wav.astype(np.float32, copy=False)
    return soxr.resample(wav, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def _describe(source: AudioSource) -> tuple[Any, str]:
    """(what to hand soundfile, a name for messages) for every accepted source kind."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source), os.fspath(source)
    if isinstance(source, (bytes, bytearray)):
        return io.BytesIO(bytes(source)), f"<{len(source)} bytes>"
    if isinstance(source, dict):
        path, data = source.get("path"), source.get("bytes")
        name = str(path) if path else f"<{len(data)} bytes>" if data is not None else "<audio dict>"
        if data is not None:  # embedded bytes win: a saved dataset's path may point to a file long gone
            return io.BytesIO(bytes(data)), name
        if path:
            return os.fspath(path), name
        raise AudioRejected(Reject.UNREADABLE, "audio dict has neither 'bytes' nor 'path'", where=name,
                            fix="cast the column with datasets.Audio(decode=False) or give file paths")
    raise AudioRejected(Reject.UNREADABLE, f"unsupported audio source of type {type(source).__name__}",
                        where=repr(source)[:80],
                        fix='pass a path, bytes, or a Hugging Face audio dict {"path":..., "bytes":...}')


def load_audio(source: AudioSource, sample_rate: int, *, where: str | None = None) -> np.ndarray:
    """Decode, downmix to mono and resample one utterance.

    Args:
        source: a file path, encoded bytes, a Hugging Face audio dict (``{"path", "bytes"}`` or
            ``{"array", "sampling_rate"}``), or a torchcodec ``AudioDecoder`` (datasets >= 4 decoding).
        sample_rate: wanted rate in Hz.
        where: name used in error messages (utterance id); defaults to the path.
    Returns:
        float32 mono waveform [T] in [-1, 1] at ``sample_rate`` Hz.
    Raises:
        AudioRejected: ``reason`` UNREADABLE (missing, corrupt, unknown format, NaN samples) or EMPTY (no
            samples). It is an :class:`multikd.errors.AudioError` naming the file.
    """
    if isinstance(source, dict) and "array" in source:  # an already decoded datasets Audio value
        data = np.asarray(source["array"], dtype=np.float32)
        sr = int(source["sampling_rate"])
        name = where or str(source.get("path") or "<decoded audio>")
        data = data[:, None] if data.ndim == 1 else data.T  # datasets stores multichannel as [C, T]
    elif hasattr(source, "get_all_samples"):  # datasets >= 4 decodes to a torchcodec AudioDecoder
        samples = source.get_all_samples()
        data, sr = samples.data.numpy().astype(np.float32).T, int(samples.sample_rate)  # [C, T] -> [T, C]
        name = where or "<decoded audio>"
    else:
        handle, name = _describe(source)
        name = where or name
        if isinstance(handle, str) and not Path(handle).is_file():
            raise AudioRejected(Reject.UNREADABLE, "audio file not found", where=name,
                                fix="check the path in the corpus metadata")
        if (Path(handle).stat().st_size if isinstance(handle, str) else handle.getbuffer().nbytes) == 0:
            raise AudioRejected(Reject.EMPTY, "audio file is 0 bytes", where=name)
        try:
            data, sr = sf.read(handle, dtype="float32", always_2d=True)  # [T, C]
        except (sf.LibsndfileError, RuntimeError, ValueError, TypeError, OSError) as e:
            raise AudioRejected(Reject.UNREADABLE, f"cannot decode audio ({e})", where=name) from e
    if data.size == 0:
        raise AudioRejected(Reject.EMPTY, "audio holds no samples", where=name)
    if not np.all(np.isfinite(data)):
        raise AudioRejected(Reject.UNREADABLE, "audio holds NaN or infinite samples (corrupt float file)",
                            where=name)
    # Averaging channels (not taking the left one) keeps a voice that was panned to one side.
    wav = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if sr != sample_rate:
        log.debug("%s: resampling %d -> %d Hz", name, sr, sample_rate)
    return resample(wav, sr, sample_rate)


def save_wav(path: str | os.PathLike, wav: np.ndarray, sr: int, subtype: str = "PCM_16") -> Path:
    """Write a mono waveform as WAV, creating parent folders.

    Args:
        wav: float waveform [T] in [-1, 1] (a torch tensor is accepted too).
        sr: sample rate in Hz.
        subtype: libsndfile subtype; 16-bit PCM by default, what every player and corpus tool reads.
    Returns:
        the path written.
    """
    if hasattr(wav, "detach"):
        wav = wav.detach().cpu().numpy()
    wav = np.asarray(wav, dtype=np.float32).reshape(-1)
    peak = float(np.max(np.abs(wav))) if wav.size else 0.0
    if peak > 1.0:
        # Integer PCM would wrap around; clipping is the lesser damage, and it is logged, not hidden.
        log.warning("%s: peak %.3f > 1, clipping before writing", path, peak)
        wav = np.clip(wav, -1.0, 1.0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wav, sr, subtype=subtype)
    return path
