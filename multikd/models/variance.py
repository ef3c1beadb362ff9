"""Variance adaptor: binned duration / pitch / energy predictors, phone-level targets, length regulator.

Each predictor outputs *logits over bins* (``[B, T_text, n_bins]``) — a distribution, so a student can be
distilled towards a teacher's softened distribution — and its expected value (softmax · bin centres),
which is what inference uses. Domains: duration in ``log(1 + frames)`` over ``[0, max_log_duration]``;
pitch and energy in their normalised domains over ``pitch_range`` / ``energy_range``.

Targets are *two-hot*: a value between two bin centres puts weight on both in proportion to closeness,
so the cross-entropy target's expected value is exactly the value (a one-hot target would quantise it)
and the loss is smooth in the value.

Pitch and energy are phone-level (FastPitch): frame values averaged over each phone's frames using the
durations; pitch averages voiced frames only (frame value ≠ 0), a phone with no voiced frame gets 0.
During training the ground-truth phone values are embedded and added to the encoder output; at inference
the predicted expected values are.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from multikd.models.config import AcousticConfig
from multikd.models.layers import ConvPredictorStack, MaskedConv1d


class Bins(nn.Module):
    """``n`` evenly spaced bin centres over ``[low, high]``, computed on the fly from the config (nothing saved)."""

    def __init__(self, low: float, high: float, n: int):
        super().__init__()
        self.low, self.high, self.n = float(low), float(high), int(n)

    def centres(self, device) -> torch.Tensor:
        return torch.linspace(self.low, self.high, self.n, device=device)  # [n]

    def two_hot(self, values: torch.Tensor) -> torch.Tensor:
        """``[...]`` values → ``[..., n]`` float32 target distribution (values clipped into range)."""
        pos = (values.float().clamp(self.low, self.high) - self.low) / (self.high - self.low) * (self.n - 1)
        lo = pos.floor().clamp(max=self.n - 2)
        w = (pos - lo)[..., None]  # weight of the upper bin
        lo = lo.long()[..., None]
        target = torch.zeros(*values.shape, self.n, device=values.device)
        return target.scatter(-1, lo, 1.0 - w).scatter(-1, lo + 1, w)

    def expected(self, logits: torch.Tensor) -> torch.Tensor:
        """``[..., n]`` logits → ``[...]`` float32 expected value (softmax · centres)."""
        return torch.softmax(logits.float(), dim=-1) @ self.centres(logits.device)


def binned_loss(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, bins: Bins,
                value_weight: float) -> torch.Tensor:
    """Cross-entropy against the two-hot target + ``value_weight`` · squared error of the expected value,
    averaged over real phones. ``logits [B, T, n]``, ``target [B, T]``, ``mask [B, T]``."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    ce = -(bins.two_hot(target) * logp).sum(-1)  # [B, T]
    err = (bins.expected(logits) - target.float().clamp(bins.low, bins.high)).square()  # [B, T]
    m = mask.float()
    return ((ce + value_weight * err) * m).sum() / m.sum().clamp_min(1.0)


def phone_average(frame_values: torch.Tensor, durations: torch.Tensor, frame_weight: torch.Tensor) -> torch.Tensor:
    """Average frame values over each phone's frames.

    Args:
        frame_values: ``[B, T_mel]``.
        durations: ``[B, T_text]`` frames per phone (padded phones 0).
        frame_weight: ``[B, T_mel]`` 0/1 which frames count (real frames; for pitch also voiced).

    Returns:
        ``[B, T_text]`` float32; 0 for a phone with no counted frame.
    """
    B, T_mel = frame_values.shape
    idx = frame_to_phone(durations, T_mel)  # [B, T_mel], T_text for frames past the last phone
    T_text = durations.shape[1]
    w = frame_weight.float()
    sums = torch.zeros(B, T_text + 1, device=frame_values.device).scatter_add(1, idx, frame_values.float() * w)
    counts = torch.zeros(B, T_text + 1, device=frame_values.device).scatter_add(1, idx, w)
    return (sums / counts.clamp_min(1.0))[:, :T_text]


def frame_to_phone(durations: torch.Tensor, T_mel: int) -> torch.Tensor:
    """``[B, T_text]`` durations → ``[B, T_mel]`` long index of each frame's phone (``T_text`` past the end)."""
    ends = durations.cumsum(-1)  # [B, T_text]
    t = torch.arange(T_mel, device=durations.device)[None, :].expand(durations.shape[0], T_mel).contiguous()
    return torch.searchsorted(ends.contiguous(), t, right=True)  # [B, T_mel]


def length_regulate(x: torch.Tensor, durations: torch.Tensor, T_mel: int | None = None):
    """Repeat each phone's vector ``durations`` times.

    ``x [B, T_text, C]``, ``durations [B, T_text]`` → ``([B, T_mel, C], mel_lengths [B])``; ``T_mel``
    defaults to the longest total; frames past an item's total are 0.
    """
    mel_lengths = durations.sum(-1)
    T_mel = int(mel_lengths.max()) if T_mel is None else T_mel
    idx = frame_to_phone(durations, T_mel)  # [B, T_mel]
    padded = F.pad(x, (0, 0, 0, 1))  # [B, T_text + 1, C]; the extra row is the zero "past the end" vector
    out = torch.gather(padded, 1, idx[..., None].expand(-1, -1, x.shape[-1]))
    return out, mel_lengths


class VariancePredictor(nn.Module):
    """Conditioned FastSpeech 2 predictor: ``x [B, T_text, C]`` + its own projection of ``cond [B, C]`` →
    logits ``[B, T_text, n_bins]``. The projection lets duration, pitch and energy each read speaker and
    language in their own way from one conditioning vector."""

    def __init__(self, config: AcousticConfig):
        super().__init__()
        self.cond = nn.Linear(config.hidden, config.hidden)
        self.net = ConvPredictorStack(config.hidden, config.predictor_hidden, config.n_bins,
                                      config.predictor_kernel, config.predictor_layers, config.dropout)

    def forward(self, x, cond, mask):
        return self.net(x + self.cond(cond)[:, None, :], mask)


class VarianceAdaptor(nn.Module):
    """Predicts durations, phone pitch and energy; adds embedded pitch/energy; expands to frames."""

    def __init__(self, config: AcousticConfig):
        super().__init__()
        self.duration_bins = Bins(0.0, config.max_log_duration, config.n_bins)
        self.pitch_bins = Bins(*config.pitch_range, config.n_bins)
        self.energy_bins = Bins(*config.energy_range, config.n_bins)
        self.duration = VariancePredictor(config)
        self.pitch = VariancePredictor(config)
        self.energy = VariancePredictor(config)
        # FastPitch embeds the scalar with a kernel-3 conv: a phone's pitch is heard relative to its
        # neighbours', so the embedding sees them.
        self.pitch_embed = MaskedConv1d(1, config.hidden, 3)
        self.energy_embed = MaskedConv1d(1, config.hidden, 3)

    def predict(self, x, cond, mask):
        """``x [B, T_text, C]`` → the three logits ``[B, T_text, n_bins]``."""
        return self.duration(x, cond, mask), self.pitch(x, cond, mask), self.energy(x, cond, mask)

    def add_prosody(self, x, pitch, energy, mask):
        """``x + embed(pitch) + embed(energy)``; ``pitch``, ``energy`` ``[B, T_text]`` phone-level values."""
        dt = x.dtype
        return (x + self.pitch_embed(pitch[..., None].to(dt), mask)
                + self.energy_embed(energy[..., None].to(dt), mask)) * mask[..., None].to(dt)

    def durations_from_logits(self, logits, mask, speed: float = 1.0) -> torch.Tensor:
        """Expected ``log(1 + frames)`` → frames ÷ ``speed``, rounded, ≥ 1 on real phones (MAS never gives a
        phone 0 frames, so neither does inference), 0 on padding. ``[B, T_text]`` long."""
        frames = torch.expm1(self.duration_bins.expected(logits)) / speed
        return (torch.round(frames).clamp_min(1).long()) * mask.long()

    @staticmethod
    def log_duration(durations: torch.Tensor) -> torch.Tensor:
        return torch.log1p(durations.float())

