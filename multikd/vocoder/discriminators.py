"""GAN discriminators for vocoder training: multi-period (HiFi-GAN) + multi-resolution (UnivNet/Vocos).

- :class:`PeriodDiscriminator` folds the waveform into ``[T / p, p]`` and convolves along time only, so
  each column sees every p-th sample: it judges the periodic structure (pitch harmonics) that an L1 mel
  loss cannot see.
- :class:`ResolutionDiscriminator` convolves a log-magnitude STFT at one resolution: it judges spectral
  detail over time and frequency, where the periodic discriminators are blind (noise bands, phase smear).

Each returns its logits and the list of intermediate feature maps (for the feature-matching loss).
Weight normalisation (``torch.nn.utils.parametrizations.weight_norm``; the old hook API cannot be removed
after it is applied, see ENVIRONMENT.md) keeps their Lipschitz constant in check as in HiFi-GAN.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

# HiFi-GAN's periods: primes, so the folded views overlap as little as possible.
PERIODS = (2, 3, 5, 7, 11)
# (n_fft, hop, win): one finer and one coarser than the acoustic features' 1024/256.
RESOLUTIONS = ((512, 128, 512), (1024, 256, 1024), (2048, 512, 2048))
LRELU = 0.1


class PeriodDiscriminator(nn.Module):
    """``wav [B, S]`` → (logits ``[B, *]``, feature maps). ``channels`` scales the width (32 = HiFi-GAN)."""

    def __init__(self, period: int, channels: int = 32):
        super().__init__()
        self.period = period
        widths = [1, channels, channels * 4, channels * 16, channels * 32, channels * 32]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(widths[i], widths[i + 1], (5, 1), (3 if i < 4 else 1, 1), padding=(2, 0)))
            for i in range(5))
        self.out = weight_norm(nn.Conv2d(widths[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, wav: torch.Tensor):
        B, S = wav.shape
        pad = (-S) % self.period
        x = F.pad(wav, (0, pad), mode="reflect" if pad < S else "constant")
        x = x.view(B, 1, -1, self.period)  # [B, 1, S / p, p]
        fmaps = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU)
            fmaps.append(x)
        x = self.out(x)
        fmaps.append(x)
        return x.flatten(1), fmaps


class ResolutionDiscriminator(nn.Module):
    """``wav [B, S]`` → (logits, feature maps) from the log-magnitude STFT at one resolution."""

    def __init__(self, n_fft: int, hop: int, win: int, channels: int = 32):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(win), persistent=False)
        k = (3, 9)  # time × frequency
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, channels, k, padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, k, stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, k, stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, k, stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))),
        ])
        self.out = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, wav: torch.Tensor):
        spec = torch.stft(wav.float(), self.n_fft, self.hop, window=self.window, center=True,
                          return_complex=True)  # [B, F, T]
        # log1p-compressed magnitude: raw magnitudes span 80 dB and the loud bins would dominate the convs.
        x = torch.log1p(spec.abs()).transpose(1, 2)[:, None]  # [B, 1, T, F]
        fmaps = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU)
            fmaps.append(x)
        x = self.out(x)
        fmaps.append(x)
        return x.flatten(1), fmaps


class Discriminators(nn.Module):
    """All period and resolution discriminators: ``wav [B, S]`` → (list of logits, list of feature-map lists)."""

    def __init__(self, channels: int = 32, periods=PERIODS, resolutions=RESOLUTIONS):
        super().__init__()
        self.nets = nn.ModuleList([PeriodDiscriminator(p, channels) for p in periods]
                                  + [ResolutionDiscriminator(*r, channels=channels) for r in resolutions])

    def forward(self, wav: torch.Tensor):
        logits, fmaps = [], []
        for net in self.nets:
            y, f = net(wav)
            logits.append(y)
            fmaps.append(f)
        return logits, fmaps


def discriminator_loss(real_logits, fake_logits) -> torch.Tensor:
    """Least-squares GAN (HiFi-GAN): real → 1, fake → 0, summed over discriminators."""
    return sum(torch.mean((1 - r) ** 2) + torch.mean(f ** 2) for r, f in zip(real_logits, fake_logits))


def generator_adversarial_loss(fake_logits) -> torch.Tensor:
    """Least-squares GAN generator term: push every discriminator's fake logits towards 1."""
    return sum(torch.mean((1 - f) ** 2) for f in fake_logits)


def feature_matching_loss(target_fmaps, fake_fmaps) -> torch.Tensor:
    """Mean L1 between the discriminators' feature maps of the target (real audio, or the teacher vocoder's
    output when distilling; detached) and of the generated audio, summed over layers and discriminators."""
    return sum(torch.mean(torch.abs(t.detach() - f))
               for tm, fm in zip(target_fmaps, fake_fmaps) for t, f in zip(tm, fm))
