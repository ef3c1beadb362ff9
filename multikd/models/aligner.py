"""Learned text↔mel alignment, trained jointly with the acoustic model (RAD-TTS / NeMo FastPitch style).

- :class:`AlignmentEncoder`: conv encoders for text embeddings and mel frames; attention log-probabilities
  from the negative squared L2 distance between them, plus a beta-binomial prior that favours the diagonal
  early in training.
- :func:`forward_sum_loss`: −log of the total probability of all monotonic alignments, computed as a CTC
  loss over text positions with a blank (the target "sequence" is simply 1..N).
- :func:`mas`: monotonic alignment search (Viterbi over monotonic paths, each phone ≥ 1 frame), numpy,
  vectorised over the text axis; :func:`batch_mas` applies it to a padded batch.
- :func:`bin_loss`: binarisation loss, pulls the soft attention towards the hard MAS path.

The soft/log attention is computed in float32 with autocast off: squared distances summed over channels
overflow fp16 easily, and CTC needs float32 anyway.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from multikd.models.layers import MaskedConv1d

NEG = -1e4  # "minus infinity" for masked logits that still fits fp16 (max 65504)


def beta_binomial_log_prior(text_lengths: torch.Tensor, mel_lengths: torch.Tensor, T_text: int, T_mel: int,
                            scaling: float = 1.0) -> torch.Tensor:
    """Log of the beta-binomial alignment prior, ``[B, T_mel, T_text]`` float32, 0 outside each item.

    Mel frame ``i`` (1-based, of ``M``) puts its prior mass on text position ``k`` (0-based, of ``N``) as
    BetaBinomial(k; n=N−1, α=s·i, β=s·(M+1−i)): the mode slides from the first to the last phone as i
    goes through the utterance. Computed with ``lgamma`` per item's own lengths, so padding changes nothing.
    """
    dev = text_lengths.device
    N = text_lengths.to(torch.float32)[:, None, None]  # [B, 1, 1]
    M = mel_lengths.to(torch.float32)[:, None, None]
    i = torch.arange(1, T_mel + 1, device=dev, dtype=torch.float32)[None, :, None]  # [1, T_mel, 1]
    k = torch.arange(T_text, device=dev, dtype=torch.float32)[None, None, :]  # [1, 1, T_text]
    n = N - 1
    a, b = scaling * i, scaling * (M + 1 - i)
    valid = (k <= n) & (i <= M)  # [B, T_mel, T_text]
    kk, nk, b = k.expand_as(valid), (n - k).clamp_min(0), b.clamp_min(1e-3)  # clamps only touch invalid cells

    def lbeta(x, y):
        return torch.lgamma(x) + torch.lgamma(y) - torch.lgamma(x + y)

    logp = torch.lgamma(n + 1) - torch.lgamma(kk + 1) - torch.lgamma(nk + 1) + lbeta(kk + a, nk + b) - lbeta(a, b)
    return torch.where(valid, logp, torch.zeros_like(logp))


class AlignmentEncoder(nn.Module):
    """Soft text↔mel attention.

    ``forward(text_emb [B, T_text, C], mels [B, T_mel, n_mels], text_mask [B, T_text], mel_mask [B, T_mel],
    log_prior [B, T_mel, T_text])`` → ``(log_attn, attn_soft)``, both ``[B, T_mel, T_text]`` float32:
    ``log_attn`` = log-softmax over text of −temperature·distance, plus the log prior (RAD-TTS's
    "attn_logprob", the input of the forward-sum loss); ``attn_soft`` = its softmax over real text
    positions (each real mel frame sums to 1; padded frames are 0).
    """

    def __init__(self, hidden: int, n_mels: int, channels: int, temperature: float):
        super().__init__()
        self.temperature = temperature
        self.text_conv1 = MaskedConv1d(hidden, 2 * hidden, 3)
        self.text_conv2 = MaskedConv1d(2 * hidden, channels, 1)
        self.mel_conv1 = MaskedConv1d(n_mels, 2 * n_mels, 3)
        self.mel_conv2 = MaskedConv1d(2 * n_mels, n_mels, 1)
        self.mel_conv3 = MaskedConv1d(n_mels, channels, 1)

    def forward(self, text_emb, mels, text_mask, mel_mask, log_prior):
        keys = self.text_conv2(F.relu(self.text_conv1(text_emb, text_mask)), text_mask)  # [B, T_text, A]
        queries = F.relu(self.mel_conv1(mels, mel_mask))
        queries = self.mel_conv3(F.relu(self.mel_conv2(queries, mel_mask)), mel_mask)  # [B, T_mel, A]
        with torch.autocast(device_type=mels.device.type, enabled=False):
            q, k = queries.float(), keys.float()
            # ||q − k||² = ||q||² + ||k||² − 2 q·k, without the [B, T_mel, T_text, A] difference tensor.
            dist = (q.square().sum(-1, keepdim=True) + k.square().sum(-1)[:, None, :]
                    - 2.0 * torch.bmm(q, k.transpose(1, 2))).clamp_min(0.0)  # [B, T_mel, T_text]
            logits = (-self.temperature * dist).masked_fill(~text_mask[:, None, :], NEG)
            log_attn = torch.log_softmax(logits, dim=-1) + log_prior
            log_attn = log_attn.masked_fill(~text_mask[:, None, :], NEG)
            attn_soft = torch.softmax(log_attn, dim=-1) * mel_mask[:, :, None]
        return log_attn, attn_soft


def forward_sum_loss(log_attn: torch.Tensor, text_lengths: torch.Tensor, mel_lengths: torch.Tensor,
                     blank_logprob: float = -1.0) -> torch.Tensor:
    """Forward-sum (CTC) alignment loss, mean over the batch of each utterance's loss per phone.

    Args:
        log_attn: ``[B, T_mel, T_text]`` attention log-probabilities (masked text positions very negative).
        text_lengths, mel_lengths: ``[B]``.
        blank_logprob: logit of the extra blank class that lets CTC "stay" between phones.
    """
    B, T_mel, T_text = log_attn.shape
    with torch.autocast(device_type=log_attn.device.type, enabled=False):
        blank = torch.full((B, T_mel, 1), blank_logprob, device=log_attn.device, dtype=torch.float32)
        logits = torch.cat([blank, log_attn.float()], dim=-1)  # [B, T_mel, 1 + T_text]; class 0 = blank
        log_probs = torch.log_softmax(logits, dim=-1).transpose(0, 1)  # [T_mel, B, 1 + T_text]
        targets = torch.arange(1, T_text + 1, device=log_attn.device)[None, :].expand(B, T_text)  # [B, T_text]
        loss = F.ctc_loss(log_probs, targets, mel_lengths, text_lengths, blank=0, reduction="none",
                          zero_infinity=True)  # [B]
        return (loss / text_lengths.float()).mean()


def mas(log_probs: np.ndarray | torch.Tensor) -> np.ndarray:
    """Monotonic alignment search: the most probable monotonic path, as durations.

    Args:
        log_probs: ``[T_mel, T_text]`` log-probabilities (or any scores) of mel frame t being phone j.

    Returns:
        ``[T_text]`` int64 durations (frames per phone): every phone gets ≥ 1 frame, the path is monotonic
        (phone indices never decrease, advance by at most 1 per frame), starts at phone 0 and ends at the
        last phone, and the durations sum to ``T_mel``.

    Raises:
        ValueError: ``T_mel < T_text`` (no path gives every phone a frame) or an empty input.
    """
    if isinstance(log_probs, torch.Tensor):
        log_probs = log_probs.detach().float().cpu().numpy()
    lp = np.asarray(log_probs, dtype=np.float64)
    T_mel, T_text = lp.shape
    if T_text == 0 or T_mel == 0:
        raise ValueError(f"mas needs a non-empty [T_mel, T_text] matrix, got {lp.shape}")
    if T_mel < T_text:
        raise ValueError(f"mas: {T_mel} frames cannot cover {T_text} phones with >= 1 frame each")
    # Dynamic programme over frames, vectorised over phones: Q[j] = best score of a path at phone j.
    q = np.full(T_text, -np.inf)
    q[0] = lp[0, 0]
    advanced = np.zeros((T_mel, T_text), dtype=bool)  # advanced[t, j]: best path to (t, j) came from j−1
    for t in range(1, T_mel):
        from_prev = np.concatenate(([-np.inf], q[:-1]))
        advanced[t] = from_prev > q
        q = np.maximum(q, from_prev) + lp[t]
    # Backtrack from the last phone at the last frame.
    durations = np.zeros(T_text, dtype=np.int64)
    j = T_text - 1
    for t in range(T_mel - 1, -1, -1):
        durations[j] += 1
        if advanced[t, j]:
            j -= 1
    return durations


def batch_mas(log_attn: torch.Tensor, text_lengths: torch.Tensor, mel_lengths: torch.Tensor) -> torch.Tensor:
    """:func:`mas` on each item of a padded batch: ``[B, T_mel, T_text]`` → durations ``[B, T_text]`` long
    (0 on padded phones), on ``log_attn``'s device."""
    lp = log_attn.detach().float().cpu().numpy()
    out = np.zeros(lp.shape[::2], dtype=np.int64)  # [B, T_text]
    for b, (n, m) in enumerate(zip(text_lengths.tolist(), mel_lengths.tolist())):
        try:
            out[b, :n] = mas(lp[b, :m, :n])
        except ValueError as e:
            raise ValueError(f"batch item {b}: {e}") from None
    return torch.from_numpy(out).to(log_attn.device)


def durations_to_hard_attention(durations: torch.Tensor, T_mel: int) -> torch.Tensor:
    """``[B, T_text]`` durations → ``[B, T_mel, T_text]`` 0/1 float attention (frame t ↦ its phone)."""
    ends = durations.cumsum(-1)  # [B, T_text]
    starts = ends - durations
    t = torch.arange(T_mel, device=durations.device)[None, :, None]  # [1, T_mel, 1]
    return ((t >= starts[:, None, :]) & (t < ends[:, None, :])).float()


def bin_loss(attn_hard: torch.Tensor, attn_soft: torch.Tensor) -> torch.Tensor:
    """Binarisation loss: −mean over hard-path cells of log(soft attention), ``[B, T_mel, T_text]`` each."""
    log_soft = torch.log(attn_soft.float().clamp_min(1e-12))
    return -(attn_hard * log_soft).sum() / attn_hard.sum().clamp_min(1.0)
