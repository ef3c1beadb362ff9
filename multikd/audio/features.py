"""Frame-aligned acoustic features: log-mel, F0 and energy, all with the same frames.

Frame ``i`` of every feature is centred on sample ``i * hop_length``, so one wav of ``T`` samples gives
``n_frames = 1 + T // hop_length`` frames everywhere (:meth:`AudioConfig.n_frames`). The variance
adaptor predicts F0 and energy per mel frame, so any off-by-one here becomes a misalignment there.

F0 estimators are a registry (:data:`F0_METHODS`) chosen by ``AudioConfig.f0_method``. Measured with
benchmarks/bench_features.py on 62 s of espeak-ng speech (4 voices), one thread of this project's 2-core
machine, as multiples of real time for mel + energy + F0: dio+stonemask ≈ 220x, yin (ours, torch) ≈ 500x,
harvest ≈ 6x, librosa pyin ≈ 7x (mel + energy alone ≈ 1400-3700x). dio is the default: fast enough for
the corpus goal (≥ 100x real time for G2P + all features) and its voicing agrees better with harvest
than yin's (87 % vs 78 % of frames). harvest and pyin are kept for offline comparisons only.
"""
from __future__ import annotations

import functools
import logging
from typing import Callable, Sequence

import numpy as np
import torch

from multikd.audio.config import AudioConfig
from multikd.errors import AudioError

log = logging.getLogger(__name__)

__all__ = ["mel_basis", "stft_magnitude", "log_mel", "energy", "f0", "extract_features",
           "speaker_pitch_stats", "F0_METHODS", "register_f0_method", "LOG_MEL_FLOOR"]

# Floor of the mel power before the log: ln(1e-5) = -11.5 is the value of digital silence in the
# features, the convention of the common 22.05 kHz vocoders so their mels can be compared with ours.
LOG_MEL_FLOOR = 1e-5


def _as_tensor(wav: np.ndarray | torch.Tensor) -> torch.Tensor:
    return wav.float() if isinstance(wav, torch.Tensor) else torch.from_numpy(np.asarray(wav, np.float32))


@functools.lru_cache(maxsize=8)
def _mel_basis_np(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    import librosa  # here, not at import time: training on prepared/packed features needs no librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, norm="slaney",
                               htk=False)


def mel_basis(cfg: AudioConfig) -> torch.Tensor:
    """Slaney-normalised mel filterbank (librosa's), the matrix a Griffin-Lim inversion needs.

    Returns:
        float32 [n_mels, n_fft // 2 + 1]; a fresh copy, safe to modify.
    """
    return torch.from_numpy(_mel_basis_np(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax).copy())


@functools.lru_cache(maxsize=8)
def _window(win_length: int) -> torch.Tensor:
    return torch.hann_window(win_length)


def stft_magnitude(wav: np.ndarray | torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Magnitude spectrogram with centred frames.

    The signal is zero-padded by ``n_fft // 2`` at both ends (not reflected): it works for inputs shorter
    than half a window, and trimmed utterances begin and end in silence anyway. ``sqrt(power + 1e-9)``
    rather than ``abs`` keeps the gradient finite where a bin is exactly zero (vocoder mel losses
    backpropagate through this).

    Args:
        wav: waveform [T] or batch [B, T], float in [-1, 1].
    Returns:
        float32 [n_fft // 2 + 1, n_frames] or [B, n_fft // 2 + 1, n_frames], linear amplitude.
    """
    x = _as_tensor(wav)
    window = _window(cfg.win_length).to(x.device)
    spec = torch.stft(x, cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length, window=window,
                      center=True, pad_mode="constant", return_complex=True)
    return torch.sqrt(spec.real.square() + spec.imag.square() + 1e-9)


def _mel_from_magnitude(mag: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    basis = mel_basis(cfg).to(mag.device)
    return torch.log(torch.clamp(torch.matmul(basis, mag), min=LOG_MEL_FLOOR))


def log_mel(wav: np.ndarray | torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Natural-log mel spectrogram: ``ln(max(mel_basis @ |STFT|, 1e-5))``.

    Args:
        wav: waveform [T] or batch [B, T] at ``cfg.sample_rate``, float in [-1, 1].
    Returns:
        float32 [n_mels, n_frames] or [B, n_mels, n_frames], with ``n_frames = 1 + T // hop_length``.
        Values run from ln(1e-5) = -11.5 (silence) to about +3 for full-scale speech.
    """
    return _mel_from_magnitude(stft_magnitude(wav, cfg), cfg)


def _energy_from_magnitude(mag: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(mag, dim=-2)


def energy(wav: np.ndarray | torch.Tensor, cfg: AudioConfig) -> np.ndarray:
    """Frame energy as FastSpeech 2 defines it: the L2 norm of each STFT magnitude frame (linear, not log).

    Linear because the pitch/energy predictors bin it themselves (log or linear bins are their choice);
    storing the raw norm loses nothing.

    Args:
        wav: waveform [T] or [B, T].
    Returns:
        float32 [n_frames] or [B, n_frames], in STFT amplitude units: a sine of amplitude A gives
        A · n_fft · sqrt(3/32) (Parseval with a Hann window), i.e. 313 A with the defaults.
    """
    return _energy_from_magnitude(stft_magnitude(wav, cfg)).numpy()


# ---------------------------------------------------------------------------------------------- F0 ---

F0Method = Callable[[np.ndarray, AudioConfig], np.ndarray]
F0_METHODS: dict[str, F0Method] = {}


def register_f0_method(name: str) -> Callable[[F0Method], F0Method]:
    """Decorator: make ``fn(wav [T] float64, cfg) -> f0 [about n_frames] Hz`` available as ``name``."""

    def deco(fn: F0Method) -> F0Method:
        F0_METHODS[name] = fn
        return fn

    return deco


def _pyworld():
    try:
        import pyworld
    except ImportError as e:
        raise AudioError("F0 method needs the pyworld package, which is not installed",
                         fix="pip install pyworld-prebuilt, or set audio.f0_method: yin") from e
    return pyworld


# WORLD dio decimates the signal by this factor before its filter bank: 22.05 kHz / 3 = 7.35 kHz still
# resolves F0 up to 800 Hz. On three espeak-ng voices (F0 ~100 and ~210 Hz) speeds 1-4 gave the same
# median F0 and the same voicing agreement with harvest (77-87 %), speed 6 started to lose voiced frames;
# speed 3 is 4x faster than speed 1 (48x -> 195x real time, one idle thread).
DIO_SPEED = 3


@register_f0_method("dio")
def _f0_dio(wav: np.ndarray, cfg: AudioConfig) -> np.ndarray:
    """WORLD dio (coarse F0 + voicing) refined by stonemask (instantaneous frequency)."""
    pw = _pyworld()
    period_ms = 1000.0 * cfg.hop_length / cfg.sample_rate  # frame i at time i * hop, as the STFT frames
    f, t = pw.dio(wav, cfg.sample_rate, f0_floor=cfg.f0_min, f0_ceil=cfg.f0_max, frame_period=period_ms,
                  speed=DIO_SPEED)
    return pw.stonemask(wav, f, t, cfg.sample_rate)


@register_f0_method("harvest")
def _f0_harvest(wav: np.ndarray, cfg: AudioConfig) -> np.ndarray:
    """WORLD harvest: fewer voicing errors than dio but ~30x slower; for offline comparisons.

    It calls a mathematically pure sine unvoiced (a degenerate case); any real recording noise avoids it.
    """
    pw = _pyworld()
    period_ms = 1000.0 * cfg.hop_length / cfg.sample_rate
    f, _ = pw.harvest(wav, cfg.sample_rate, f0_floor=cfg.f0_min, f0_ceil=cfg.f0_max, frame_period=period_ms)
    return f


@register_f0_method("pyin")
def _f0_pyin(wav: np.ndarray, cfg: AudioConfig) -> np.ndarray:
    """librosa probabilistic YIN (HMM voicing): a reference, ~7x real time, too slow for corpora."""
    import librosa

    frame = max(2048, 2 * int(np.ceil(cfg.sample_rate / cfg.f0_min)))  # two periods of the lowest F0
    f, _, _ = librosa.pyin(wav.astype(np.float32), fmin=cfg.f0_min, fmax=cfg.f0_max, sr=cfg.sample_rate,
                           frame_length=frame, hop_length=cfg.hop_length, center=True, fill_na=0.0)
    return f


# YIN voicing: a frame is voiced when its cumulative-mean-normalised difference has a local minimum
# below this value. The classic 0.1-0.15 (meant for period picking) left half the voiced frames of
# espeak-ng speech unvoiced; 0.3 agreed with harvest's voicing on 78 % of frames (dio: 87 %) with 2 % gross
# (>20 %) F0 errors, and above 0.4 octave errors grow fast. dio stays the default; yin is the fallback
# that needs no extra package.
YIN_THRESHOLD = 0.3


@register_f0_method("yin")
def _f0_yin(wav: np.ndarray, cfg: AudioConfig) -> np.ndarray:
    """YIN (de Cheveigné & Kawahara 2002) vectorised over frames in torch, with a voicing decision.

    Each centred frame of ``L = 2 * ceil(sr / f0_min)`` samples (at least n_fft) compares its first
    ``L - tau_max`` samples with themselves shifted by every lag up to ``tau_max = sr / f0_min``.
    """
    sr = cfg.sample_rate
    tau_min = max(2, int(np.floor(sr / cfg.f0_max)))
    tau_max = int(np.ceil(sr / cfg.f0_min))
    L = max(cfg.n_fft, 2 * tau_max)
    W = L - tau_max - 1  # integration window: lags up to tau_max + 1 stay inside the frame
    x = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))
    x = torch.nn.functional.pad(x, (L // 2, L // 2))
    frames = x.unfold(0, L, cfg.hop_length)  # [N, L], frame i centred on sample i * hop
    frames = frames - frames.mean(dim=1, keepdim=True)
    n = 1 << int(np.ceil(np.log2(L + W)))
    # r(tau) = sum_{j<W} x_j x_{j+tau}: cross-correlation of the head with the whole frame, via FFT.
    r = torch.fft.irfft(torch.conj(torch.fft.rfft(frames[:, :W], n=n)) * torch.fft.rfft(frames, n=n), n=n)
    r = r[:, : tau_max + 2]  # [N, tau_max + 2]
    # d(tau) = sum_{j<W} (x_j - x_{j+tau})^2 = e(0) + e(tau) - 2 r(tau), e(tau) = energy of x[tau:tau+W].
    csum = torch.nn.functional.pad(torch.cumsum(frames.square(), dim=1), (1, 0))
    taus = torch.arange(tau_max + 2)
    e = csum[:, taus + W] - csum[:, taus]
    d = (e[:, :1] + e - 2.0 * r).clamp_min(0.0)
    # Cumulative mean normalised difference: d'(0) = 1, d'(tau) = d(tau) * tau / sum_{k=1..tau} d(k).
    cm = torch.ones_like(d)
    cm[:, 1:] = d[:, 1:] * taus[1:] / torch.cumsum(d[:, 1:], dim=1).clamp_min(1e-12)
    # The first local minimum below the threshold, searched in [tau_min, tau_max].
    c, left, right = cm[:, tau_min:tau_max + 1], cm[:, tau_min - 1:tau_max], cm[:, tau_min + 1:tau_max + 2]
    ok = (c < YIN_THRESHOLD) & (c <= left) & (c <= right)
    voiced = ok.any(dim=1)
    idx = torch.argmax(ok.to(torch.int8), dim=1) + tau_min  # first True
    rows = torch.arange(len(cm))
    a, b, g = cm[rows, idx - 1], cm[rows, idx], cm[rows, idx + 1]
    denom = a - 2.0 * b + g
    shift = torch.where(denom.abs() > 1e-12, 0.5 * (a - g) / denom, torch.zeros_like(denom)).clamp(-1, 1)
    f = sr / (idx.float() + shift)
    # Frames with (near) no signal give d ≈ 0 everywhere, which YIN reads as perfectly periodic.
    rms_db = 10.0 * torch.log10(frames.square().mean(dim=1).clamp_min(1e-20))
    voiced &= rms_db > cfg.silence_dbfs
    return torch.where(voiced, f, torch.zeros_like(f)).double().numpy()


def f0(wav: np.ndarray | torch.Tensor, cfg: AudioConfig, method: str | None = None) -> np.ndarray:
    """Fundamental frequency per frame.

    Args:
        wav: waveform [T] at ``cfg.sample_rate``.
        method: a key of :data:`F0_METHODS`; default ``cfg.f0_method``.
    Returns:
        float32 [n_frames] in Hz, 0 where unvoiced; frame i centred on sample i * hop_length.
    Raises:
        AudioError: unknown method, or its package missing.
    """
    method = method or cfg.f0_method
    if method not in F0_METHODS:
        raise AudioError(f"unknown F0 method {method!r}", where="audio.f0_method",
                         fix=f"use one of: {', '.join(sorted(F0_METHODS))}")
    x = wav.detach().cpu().numpy() if isinstance(wav, torch.Tensor) else np.asarray(wav)
    x = np.ascontiguousarray(x.reshape(-1), dtype=np.float64)
    n = cfg.n_frames(len(x))
    out = np.nan_to_num(np.asarray(F0_METHODS[method](x, cfg), dtype=np.float32), nan=0.0)
    if abs(len(out) - n) > 1:
        log.warning("F0 method %s gave %d frames for %d expected; fitted", method, len(out), n)
    # Estimators round their frame count differently by at most one frame; fit to the STFT's count.
    return out[:n] if len(out) >= n else np.pad(out, (0, n - len(out)))


def extract_features(wav: np.ndarray | torch.Tensor, cfg: AudioConfig, f0_method: str | None = None) -> dict:
    """All frame features of one utterance, from one STFT.

    Args:
        wav: waveform [T] at ``cfg.sample_rate``, already trimmed and loudness-normalised.
    Returns:
        ``{"mel": float32 tensor [n_mels, n_frames] (ln), "f0": float32 [n_frames] Hz (0 = unvoiced),
        "energy": float32 [n_frames] (L2 norm of the magnitude frame), "n_frames": int}``.
    """
    mag = stft_magnitude(wav, cfg)
    if mag.dim() != 2:
        raise ValueError(f"extract_features takes one wav [T], got shape {tuple(_as_tensor(wav).shape)}")
    return {"mel": _mel_from_magnitude(mag, cfg), "f0": f0(wav, cfg, f0_method),
            "energy": _energy_from_magnitude(mag).numpy(), "n_frames": mag.shape[-1]}


def speaker_pitch_stats(f0s: Sequence[np.ndarray], *, where: str | None = None) -> dict[str, float]:
    """Pitch statistics of one speaker over the voiced frames (F0 > 0) of all its utterances.

    The log-domain pair is what pitch normalisation should use: F0 is roughly log-normal, and a speaker's
    pitch range is multiplicative (an octave is a factor of 2 at any register).

    Returns:
        ``{"mean", "std"}`` in Hz, ``{"log_mean", "log_std"}`` of ln(Hz), and ``n_voiced`` frames.
    Raises:
        AudioError: no voiced frame at all (the speaker's F0 is undefined).
    """
    voiced = np.concatenate([np.asarray(f, dtype=np.float64).reshape(-1) for f in f0s] or [np.zeros(0)])
    voiced = voiced[voiced > 0]
    if voiced.size == 0:
        raise AudioError("no voiced frame in any utterance: pitch statistics are undefined", where=where,
                         fix="check that the audio holds speech and that audio.f0_min/f0_max cover the voice")
    logs = np.log(voiced)
    return {"mean": float(voiced.mean()), "std": float(voiced.std()), "log_mean": float(logs.mean()),
            "log_std": float(logs.std()), "n_voiced": int(voiced.size)}
