"""Masked building blocks: same-length convolutions, FFT (feed-forward transformer) blocks, positions.

Masking rule used everywhere: a tensor entering a convolution has its padded positions zeroed first, so
a padded utterance sees exactly the zeros a lone utterance gets from the convolution's own zero padding,
and self-attention never attends to padded keys. That is what makes a padded batch give the same outputs
as each utterance alone (tested in ``tests/test_models.py``).

Shapes: ``B`` batch, ``T`` time (text or mel), ``C`` channels. Masks are bool, True on real positions.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``[B]`` lengths → ``[B, T]`` bool mask, True where ``t < length``."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def sinusoidal_positions(length: int, channels: int, device, dtype) -> torch.Tensor:
    """``[length, channels]`` sinusoidal position codes (Vaswani et al.), computed on the fly.

    Computed rather than stored as a buffer: nothing to save, no maximum length, any device/dtype.
    """
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]  # [T, 1]
    div = torch.exp(torch.arange(0, channels, 2, device=device, dtype=torch.float32)
                    * (-math.log(10000.0) / channels))  # [C/2]
    pe = torch.zeros(length, channels, device=device, dtype=torch.float32)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div[: channels // 2])
    return pe.to(dtype)


class MaskedConv1d(nn.Conv1d):
    """Time-major same-length 1-D convolution: ``[B, T, C_in]`` → ``[B, T, C_out]``, padding zeroed first."""

    def __init__(self, c_in: int, c_out: int, kernel: int, bias: bool = True):
        super().__init__(c_in, c_out, kernel, padding=kernel // 2, bias=bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # x [B, T, C_in], mask [B, T]
        x = x * mask[..., None].to(x.dtype)
        return super().forward(x.transpose(1, 2)).transpose(1, 2)  # [B, T, C_out]


class MultiHeadSelfAttention(nn.Module):
    """Self-attention over real keys only (``scaled_dot_product_attention`` with a bool key mask).

    A bool mask, not an additive −1e9, so fp16/bf16 autocast never overflows; every query row has at
    least one real key (lengths ≥ 1), so no row is all-masked.
    """

    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.out = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # x [B, T, C], mask [B, T]
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)  # [B, H, T, C/H]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :],
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(B, T, C))  # [B, T, C]


class FFTBlock(nn.Module):
    """Pre-norm FFT block: self-attention, then conv(k)→ReLU→conv(1), each with a residual.

    Pre-norm (LayerNorm before each sub-layer) rather than FastSpeech 2's post-norm: it trains without
    learning-rate warm-up tricks and keeps the residual stream unnormalised, which is also what the
    feature-distillation adapters read.
    """

    def __init__(self, hidden: int, heads: int, kernel: int, ff_mult: int, dropout: float):
        super().__init__()
        self.norm_attn = nn.LayerNorm(hidden)
        self.attn = MultiHeadSelfAttention(hidden, heads, dropout)
        self.norm_ff = nn.LayerNorm(hidden)
        self.conv1 = MaskedConv1d(hidden, hidden * ff_mult, kernel)
        self.conv2 = MaskedConv1d(hidden * ff_mult, hidden, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # x [B, T, C], mask [B, T]
        x = x + self.drop(self.attn(self.norm_attn(x), mask))
        h = self.conv2(self.drop(F.relu(self.conv1(self.norm_ff(x), mask))), mask)
        return (x + self.drop(h)) * mask[..., None].to(x.dtype)  # padded frames stay exactly 0


class FFTStack(nn.Module):
    """Sinusoidal positions + ``layers`` FFT blocks + a final LayerNorm.

    ``forward`` returns the normalised output ``[B, T, C]`` and, when asked, the residual stream after
    every block (a tuple of ``layers`` tensors ``[B, T, C]``, padded positions zero).
    """

    def __init__(self, hidden: int, layers: int, heads: int, kernel: int, ff_mult: int, dropout: float):
        super().__init__()
        # Learned scale of the positional code (FastSpeech's "alpha"): lets the model decide how loud
        # position is relative to the content embedding.
        self.pos_scale = nn.Parameter(torch.ones(1))
        self.blocks = nn.ModuleList(FFTBlock(hidden, heads, kernel, ff_mult, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, output_hidden_states: bool = False):
        pe = sinusoidal_positions(x.shape[1], x.shape[2], x.device, x.dtype)  # [T, C]
        x = self.drop(x + self.pos_scale.to(x.dtype) * pe[None]) * mask[..., None].to(x.dtype)  # [B, T, C]
        hidden_states = []
        for block in self.blocks:
            x = block(x, mask)
            if output_hidden_states:
                hidden_states.append(x)
        out = self.norm(x) * mask[..., None].to(x.dtype)
        return out, (tuple(hidden_states) if output_hidden_states else None)


class ConvPredictorStack(nn.Module):
    """``layers`` × (masked conv → ReLU → LayerNorm → dropout), then a linear head: ``[B, T, C_in]`` →
    ``[B, T, c_out]``. FastSpeech 2's variance predictor, used for duration, pitch and energy logits."""

    def __init__(self, c_in: int, hidden: int, c_out: int, kernel: int, layers: int, dropout: float):
        super().__init__()
        self.convs = nn.ModuleList(MaskedConv1d(c_in if i == 0 else hidden, hidden, kernel) for i in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, c_out)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms):
            x = self.drop(norm(F.relu(conv(x, mask))))
        return self.head(x) * mask[..., None].to(x.dtype)  # [B, T, c_out]
