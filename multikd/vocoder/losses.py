"""Reconstruction losses of vocoder training: the acoustic mel, multi-resolution log-STFT, waveform.

The mel L1 uses exactly the acoustic model's features (:func:`multikd.audio.features.log_mel`), so the
vocoder is trained to invert what the acoustic model predicts. The multi-resolution STFT loss (Parallel
WaveGAN) adds resolutions finer and coarser than the features' 1024/256: one resolution alone lets
artefacts hide between its time/frequency bins.
"""
from __future__ import annotations

import torch

from multikd.audio.config import AudioConfig
from multikd.audio.features import log_mel
from multikd.vocoder.discriminators import RESOLUTIONS


def mel_l1(wav: torch.Tensor, target_wav: torch.Tensor, audio: AudioConfig) -> torch.Tensor:
    """Mean L1 between the ln-mels of ``wav`` and ``target_wav`` (both ``[B, S]``)."""
    return torch.mean(torch.abs(log_mel(wav, audio) - log_mel(target_wav, audio)))


def multi_resolution_stft(wav: torch.Tensor, target_wav: torch.Tensor, resolutions=RESOLUTIONS) -> torch.Tensor:
    """Spectral convergence + log-magnitude L1, averaged over ``resolutions`` ((n_fft, hop, win) each)."""
    total = 0.0
    for n_fft, hop, win in resolutions:
        window = torch.hann_window(win, device=wav.device)

        def mag(x):
            s = torch.stft(x.float(), n_fft, hop, win, window, center=True, return_complex=True)
            return torch.sqrt(s.real.square() + s.imag.square() + 1e-9)  # finite gradient at exact zeros

        m, t = mag(wav), mag(target_wav)
        convergence = torch.linalg.norm(t - m) / torch.linalg.norm(t).clamp_min(1e-6)
        total = total + convergence + torch.mean(torch.abs(torch.log(t) - torch.log(m)))
    return total / len(resolutions)


def waveform_l1(wav: torch.Tensor, target_wav: torch.Tensor) -> torch.Tensor:
    """Sample L1. Only meaningful against a target with the same phase: the teacher vocoder's output for
    the same mel, in distillation; against recordings the phase is free and this term would only blur."""
    return torch.mean(torch.abs(wav - target_wav))
