"""`AcousticOutput`: what :meth:`AcousticModel.forward` returns (a ``transformers`` ``ModelOutput``)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput


@dataclass
class AcousticOutput(ModelOutput):
    """Training-time outputs. Shapes: B batch, N = T_text, M = T_mel, K = n_bins, C = hidden.

    Attributes:
        loss: scalar, the config-weighted sum of ``losses``.
        losses: ``{"mel", "duration", "pitch", "energy", "forward_sum", "bin"}`` → scalar tensors (unweighted;
            ``forward_sum`` and ``bin`` are 0 when durations were given).
        mel: ``[B, M, n_mels]`` predicted log-mel with teacher-forced durations, pitch and energy (padding 0).
        duration_logits, pitch_logits, energy_logits: ``[B, N, K]`` (padding 0).
        durations: ``[B, N]`` long, the durations used (MAS or given).
        pitch, energy: ``[B, N]`` predicted phone-level expected values (normalised domain).
        pitch_target, energy_target: ``[B, N]`` phone-level averages of the frame targets.
        log_duration: ``[B, N]`` predicted expected ``log(1 + frames)``.
        attn_soft, attn_hard: ``[B, M, N]`` aligner attention and its MAS path (None when durations given).
        attn_logprob: ``[B, M, N]`` aligner log-probabilities incl. the prior (None when durations given).
        encoder_hidden_states: tuple of ``encoder_layers`` ``[B, N, C]`` (each block's output), on request.
        decoder_hidden_states: tuple of ``decoder_layers`` ``[B, M, C]``, on request.
        text_mask: ``[B, N]`` bool; mel_mask: ``[B, M]`` bool.
    """

    loss: torch.Tensor | None = None
    losses: dict[str, torch.Tensor] | None = None
    mel: torch.Tensor | None = None
    duration_logits: torch.Tensor | None = None
    pitch_logits: torch.Tensor | None = None
    energy_logits: torch.Tensor | None = None
    durations: torch.Tensor | None = None
    log_duration: torch.Tensor | None = None
    pitch: torch.Tensor | None = None
    energy: torch.Tensor | None = None
    pitch_target: torch.Tensor | None = None
    energy_target: torch.Tensor | None = None
    attn_soft: torch.Tensor | None = None
    attn_hard: torch.Tensor | None = None
    attn_logprob: torch.Tensor | None = None
    encoder_hidden_states: tuple[torch.Tensor, ...] | None = None
    decoder_hidden_states: tuple[torch.Tensor, ...] | None = None
    text_mask: torch.Tensor | None = None
    mel_mask: torch.Tensor | None = None
