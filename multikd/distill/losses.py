"""Distillation loss terms. Each returns a scalar; the trainer weights them with ``distill.weights``.

Shapes: B batch, N = T_text, M = T_mel, K = n_bins, C hidden. Masks are bool, True on real positions.

- :func:`gt_loss`: the model's own losses on ground truth, restricted to items that have audio.
- :func:`seq_kd_loss`: teacher predictions (mel, log-duration, phone pitch and energy) as targets.
- :func:`soft_target_loss`: ``T² · KL(softmax(z_t/T) ‖ softmax(z_s/T))`` per phone, over the binned logits.
  A real KL divergence ``Σ p_t (ln p_t − ln p_s)``: zero when the distributions agree, never negative. (The
  often-quoted ``α T² Σ q ln q̃`` drops the minus sign of a cross-entropy and would be *maximised*.) The T²
  factor keeps its gradient on the scale of a T = 1 term: the gradient of the KL w.r.t. the student's
  logits is ``(p_s − p_t) / T``, and for logits small relative to T the difference itself shrinks like
  1/T, so the raw KL shrinks like 1/T² (Hinton et al., 2015).
- :class:`FeatureAdapters`: learned linear maps A_l from student hidden states onto teacher layers; masked MSE.
- :func:`mmd_rbf`, :func:`coral`: domain terms between two sets of feature vectors.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from multikd.models.variance import binned_loss


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp_min(1.0)


def soft_target_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, mask: torch.Tensor,
                     temperature: float) -> torch.Tensor:
    """``T² · mean over real phones of KL(softmax(z_t/T) ‖ softmax(z_s/T))``.

    Args:
        student_logits, teacher_logits: ``[B, N, K]``; the teacher's are detached here, so no gradient
            ever reaches the teacher.
        mask: ``[B, N]`` bool.
    """
    t = temperature
    log_ps = F.log_softmax(student_logits.float() / t, dim=-1)
    log_pt = F.log_softmax(teacher_logits.detach().float() / t, dim=-1)
    kl = (log_pt.exp() * (log_pt - log_ps)).sum(-1)  # [B, N]
    return t * t * _masked_mean(kl, mask)


def gt_loss(model, out, batch: dict, has_gt: torch.Tensor) -> dict[str, torch.Tensor]:
    """The model's own loss parts (mel L1, binned duration/pitch/energy, aligner) on items with audio.

    Args:
        out: the student's :class:`~multikd.models.AcousticOutput` for ``batch``.
        has_gt: ``[B]`` bool; teacher-only items (text without audio) are excluded.
    Returns:
        ``{"gt": weighted sum with the model config's weights, "gt_mel": mel L1}``.
    """
    c, v = model.config, model.variance
    text_mask = out.text_mask & has_gt[:, None]
    mel_mask = out.mel_mask & has_gt[:, None]
    mel = _masked_mean((out.mel.float() - batch["mels"].float()).abs().mean(-1), mel_mask)
    dur = binned_loss(out.duration_logits, v.log_duration(out.durations), text_mask, v.duration_bins,
                      c.value_loss_weight)
    pitch = binned_loss(out.pitch_logits, out.pitch_target, text_mask, v.pitch_bins, c.value_loss_weight)
    energy = binned_loss(out.energy_logits, out.energy_target, text_mask, v.energy_bins, c.value_loss_weight)
    total = (c.mel_loss_weight * mel + c.duration_loss_weight * dur + c.pitch_loss_weight * pitch
             + c.energy_loss_weight * energy)
    if out.attn_logprob is not None:  # the student aligns itself (finetune/scratch): train its aligner too
        total = total + c.forward_sum_loss_weight * out.losses["forward_sum"] + c.bin_loss_weight * out.losses["bin"]
    return {"gt": total, "gt_mel": mel.detach()}


def seq_kd_loss(model, out, targets: dict) -> dict[str, torch.Tensor]:
    """Teacher predictions as targets (sequence-level KD), over every item that has teacher targets.

    Args:
        out: the student's output, teacher-forced with the teacher's durations.
        targets: ``t_mel [B, M, n_mels]``, ``t_log_duration``/``t_pitch``/``t_energy [B, N]``.
    """
    c, v = model.config, model.variance
    mel = _masked_mean((out.mel.float() - targets["t_mel"].float()).abs().mean(-1), out.mel_mask)
    dur = binned_loss(out.duration_logits, targets["t_log_duration"], out.text_mask, v.duration_bins,
                      c.value_loss_weight)
    pitch = binned_loss(out.pitch_logits, targets["t_pitch"], out.text_mask, v.pitch_bins, c.value_loss_weight)
    energy = binned_loss(out.energy_logits, targets["t_energy"], out.text_mask, v.energy_bins, c.value_loss_weight)
    total = (c.mel_loss_weight * mel + c.duration_loss_weight * dur + c.pitch_loss_weight * pitch
             + c.energy_loss_weight * energy)
    return {"seq_kd": total, "seq_kd_mel": mel.detach()}


def soft_targets(out, targets: dict, temperature: float) -> torch.Tensor:
    """Mean of :func:`soft_target_loss` over the duration, pitch and energy predictors."""
    return sum(soft_target_loss(getattr(out, f"{k}_logits"), targets[f"t_{k}_logits"], out.text_mask, temperature)
               for k in ("duration", "pitch", "energy")) / 3


class FeatureAdapters(nn.Module):
    """``A_l``: one linear map per distilled layer pair, student width → teacher width.

    Args:
        pairs: ``{"encoder.i": "encoder.j", ...}`` student layer → teacher layer.
        init: optional ``[C_s, C_t]`` projection P of the student's initialisation; ``A = Pᵀ`` then maps a
            freshly initialised student's states back onto the teacher's (zero bias), so the term starts
            small and measures drift rather than the width change.
    """

    def __init__(self, pairs: dict[str, str], student_hidden: int, teacher_hidden: int,
                 init: torch.Tensor | None = None):
        super().__init__()
        self.pairs = dict(pairs)
        self.maps = nn.ModuleDict({s.replace(".", "_"): nn.Linear(student_hidden, teacher_hidden) for s in self.pairs})
        if init is not None:
            with torch.no_grad():
                for lin in self.maps.values():
                    lin.weight.copy_(init.T)
                    lin.bias.zero_()

    @staticmethod
    def _state(out, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        part, _, i = name.partition(".")
        states = out.encoder_hidden_states if part == "encoder" else out.decoder_hidden_states
        return states[int(i)], (out.text_mask if part == "encoder" else out.mel_mask)

    def forward(self, student_out, teacher_out) -> torch.Tensor:
        """Mean over layer pairs of the masked MSE ``‖A_l(h_s,l) − h_t,m(l)‖²`` (per element)."""
        losses = []
        for s, t in self.pairs.items():
            hs, mask = self._state(student_out, s)  # [B, T, C_s]
            ht, _ = self._state(teacher_out, t)  # [B, T, C_t]
            err = (self.maps[s.replace(".", "_")](hs.float()) - ht.detach().float()).square().mean(-1)
            losses.append(_masked_mean(err, mask))
        return torch.stack(losses).mean()


def mmd_rbf(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Biased squared MMD between samples ``x [n, C]`` and ``y [m, C]`` with a sum of RBF kernels.

    Bandwidths: the median pairwise squared distance times {0.25, 1, 4} (the median heuristic, widened so
    neither very close nor very far sets saturate the kernel). Zero for identical sets, positive otherwise.
    """
    z = torch.cat([x, y]).float()
    d2 = torch.cdist(z, z).square()
    base = d2.detach().median().clamp_min(1e-6)
    k = sum(torch.exp(-d2 / (base * s)) for s in (0.25, 1.0, 4.0))
    n = x.shape[0]
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def coral(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """CORAL: ``‖Cov(x) − Cov(y)‖²_F / (4 C²)`` between ``x [n, C]`` and ``y [m, C]`` (Sun & Saenko, 2016)."""
    def cov(a):
        a = a.float() - a.float().mean(0, keepdim=True)
        return a.T @ a / max(a.shape[0] - 1, 1)
    c = x.shape[1]
    return (cov(x) - cov(y)).square().sum() / (4 * c * c)


DOMAIN_LOSSES = {"mmd": mmd_rbf, "coral": coral}


def pooled_features(states: torch.Tensor, mask: torch.Tensor, max_vectors: int = 256) -> torch.Tensor:
    """Real positions of ``states [B, T, C]`` as ``[n ≤ max_vectors, C]`` (evenly strided, deterministic)."""
    x = states[mask]
    if x.shape[0] > max_vectors:
        x = x[torch.linspace(0, x.shape[0] - 1, max_vectors, device=x.device).long()]
    return x
