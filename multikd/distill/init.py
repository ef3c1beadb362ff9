"""Initialise a smaller student from the teacher: layer selection plus a width reduction that keeps what
the teacher learned.

Why this construction. Every block of :class:`~multikd.models.AcousticModel` reads from and writes into one
residual stream of width C (pre-norm FFT blocks, additive conditioning, prosody embeddings, mel head). A
narrower student needs a map from the teacher's C_t-dimensional stream to its C_s dimensions that keeps
as much of the stream as possible; the best rank-C_s linear map in the least-squares sense is the top-C_s
principal subspace of the stream's activations (PCA, Eckart–Young). So:

1. Run the teacher on a few target-language batches and collect its residual-stream vectors (embedding
   output, every encoder and decoder block's output). ``P [C_s, C_t]`` = the top C_s eigenvectors of their
   (uncentred, so the mean direction is kept) second-moment matrix; ``x_s = P x_t`` and ``x_t ≈ Pᵀ x_s``.
2. Every weight dimension that lives in the residual stream is contracted with P: a linear map that writes
   to the stream becomes ``P W``, one that reads from it ``W Pᵀ`` (both together: ``P W Pᵀ``). LayerNorm
   gains become ``(P∘P) γ`` — the diagonal of ``P diag(γ) Pᵀ`` — and biases ``P b``. LayerNorm is not
   exactly equivariant under P (it centres along the all-ones direction), so this is an initialisation,
   not an equivalence; the test measures that it is much closer to the teacher than a random one.
3. Inner widths that are not the stream (feed-forward units, predictor channels, aligner channels,
   attention head dimensions) are *pruned*: the student keeps the teacher's units with the largest weight
   norm (for attention, per head, the query/key and value dimensions with the largest products of norms),
   and the same units on the consuming side, so each kept unit computes exactly what it did.
4. Layers: student block i starts from teacher block ``layer_map(n_t, n_s)[i]``, evenly spaced with the
   first and last kept (the first sees phones, the last feeds the output head).

Shapes: ``P`` is ``[C_s, C_t]`` with orthonormal rows. A student wider than its teacher is refused.
"""
from __future__ import annotations

import logging
import re

import torch

from multikd.errors import ConfigError
from multikd.train.data import MODEL_INPUTS

log = logging.getLogger(__name__)


def layer_map(n_teacher: int, n_student: int) -> list[int]:
    """Teacher block index for each student block: evenly spaced, first and last included.

    ``layer_map(4, 3) == [0, 2, 3]``; ``layer_map(4, 4) == [0, 1, 2, 3]``.
    """
    if n_student == 1:
        return [n_teacher - 1]
    return [round(i * (n_teacher - 1) / (n_student - 1)) for i in range(n_student)]


@torch.no_grad()
def residual_projection(teacher, batches: list[dict], width: int) -> torch.Tensor:
    """``P [width, C_t]``: the top-``width`` principal directions of the teacher's residual stream.

    Args:
        teacher: an :class:`AcousticModel` (put in eval mode here).
        batches: collated batches (``multikd.train.data.collate``) to run it on.
        width: the student's hidden size (≤ the teacher's).
    """
    c_t = teacher.config.hidden
    if width > c_t:
        raise ConfigError(f"student hidden {width} is wider than the teacher's {c_t}",
                          fix="a student is at most as wide as its teacher: lower model.overrides.hidden")
    teacher.eval()
    moment, count = torch.zeros(c_t, c_t, dtype=torch.float64), 0
    for batch in batches:
        out = teacher(**{k: batch[k] for k in MODEL_INPUTS}, output_hidden_states=True)
        text_mask, mel_mask = out.text_mask, out.mel_mask
        emb = teacher.embed(batch["phone_ids"])
        for states, mask in ([(emb, text_mask)] + [(h, text_mask) for h in out.encoder_hidden_states]
                             + [(h, mel_mask) for h in out.decoder_hidden_states]):
            x = states[mask].double()  # [n, C_t] real positions only
            moment += x.T @ x
            count += x.shape[0]
    # LayerNorm centres along the all-ones direction u; P maps u_t onto u_s and the centred part onto
    # the student's centred subspace, so centring commutes with P: LN(P x) ∝ P LN(x) up to the gains.
    u_t = torch.full((c_t,), c_t ** -0.5, dtype=torch.float64)
    centre = torch.eye(c_t, dtype=torch.float64) - torch.outer(u_t, u_t)
    eigval, eigvec = torch.linalg.eigh(centre @ (moment / max(count, 1)) @ centre)  # ascending
    top = eigvec[:, -(width - 1):].flip(-1).T if width > 1 else eigvec[:, :0].T  # [width-1, C_t]
    top = top * torch.sign(top.gather(1, top.abs().argmax(1, keepdim=True)))  # deterministic signs
    u_s = torch.full((width, 1), width ** -0.5, dtype=torch.float64)
    basis, _ = torch.linalg.qr(torch.cat([u_s, torch.eye(width, dtype=torch.float64)], 1))  # [width, width]
    basis = basis[:, 1:width] * torch.sign(basis[0, 0])  # orthonormal, ⊥ u_s: [width, width-1]
    P = u_s @ u_t[None] + basis @ top  # [width, C_t], orthonormal rows, P u_t = u_s
    kept = float(eigval[-(width - 1):].sum() / eigval.sum().clamp_min(1e-12)) if width > 1 else 0.0
    log.info("width %d → %d keeps %.1f %% of the teacher's centred residual-stream energy", c_t, width, 100 * kept)
    return P.float()


# Roles of each dimension of a parameter: "C" residual stream, "=" same size in both models,
# "u:NAME" inner units of group NAME (pruned by importance, shared by producer and consumer).
# Attention and the row-indexed embeddings are handled separately.
_RULES: list[tuple[str, tuple[str, ...]]] = [
    (r"embed\.features\.weight", ("C", "=")),
    (r"(en|de)coder\.pos_scale", ("=",)),
    (r"(en|de)coder\.(blocks\.\d+\.norm_(attn|ff)|norm)\.(weight|bias)", ("C",)),
    (r"(en|de)coder\.blocks\.\d+\.conv1\.weight", ("u:ff", "C", "=")),
    (r"(en|de)coder\.blocks\.\d+\.conv1\.bias", ("u:ff",)),
    (r"(en|de)coder\.blocks\.\d+\.conv2\.weight", ("C", "u:ff", "=")),
    (r"(en|de)coder\.blocks\.\d+\.conv2\.bias", ("C",)),
    (r"aligner\.text_conv1\.weight", ("u:t1", "C", "=")),
    (r"aligner\.text_conv1\.bias", ("u:t1",)),
    (r"aligner\.text_conv2\.weight", ("u:att", "u:t1", "=")),
    (r"aligner\.(text_conv2|mel_conv3)\.bias", ("u:att",)),
    (r"aligner\.mel_conv3\.weight", ("u:att", "=", "=")),
    (r"aligner\.mel_conv[12]\.(weight|bias)", None),  # mel side: n_mels-shaped, copied as is
    (r"variance\.\w+\.cond\.weight", ("C", "C")),
    (r"variance\.\w+\.cond\.bias", ("C",)),
    (r"variance\.\w+\.net\.convs\.0\.weight", ("u:p0", "C", "=")),
    (r"variance\.\w+\.net\.convs\.(\d+)\.weight", ("u:p{1}", "u:p{0}", "=")),
    (r"variance\.\w+\.net\.(convs|norms)\.(\d+)\.(weight|bias)", ("u:p{0}",)),
    (r"variance\.\w+\.net\.head\.weight", ("=", "u:last")),
    (r"variance\.\w+\.net\.head\.bias", ("=",)),
    (r"variance\.(pitch|energy)_embed\.weight", ("C", "=", "=")),
    (r"variance\.(pitch|energy)_embed\.bias", ("C",)),
    (r"mel_out\.weight", ("=", "C")),
    (r"mel_out\.bias", ("=",)),
]


def _roles(name: str, ndim: int) -> tuple[str, ...]:
    for pattern, roles in _RULES:
        m = re.fullmatch(pattern, name)
        if m:
            if roles is None:
                return ("=",) * ndim
            nums = [int(g) for g in m.groups() if g and g.isdigit()]
            if nums and any("{" in r for r in roles):  # conv k reads the units of conv k-1, writes group k
                k = nums[-1]
                roles = tuple(r.replace("{1}", str(k)).replace("{0}", str(k - 1 if len(roles) == 3 else k))
                              for r in roles)
            return roles
    raise KeyError(name)


def _group_key(name: str, role: str, predictor_layers: int) -> str:
    """Units are shared within one block / predictor: the key is the module prefix plus the group."""
    g = role[2:]
    if g == "last":
        g = f"p{predictor_layers - 1}"
    prefix = re.sub(r"\.(conv\d|text_conv\d|mel_conv\d|cond|convs\.\d+|norms\.\d+|head)\.(weight|bias)$", "", name)
    prefix = prefix.replace(".net", "")
    return f"{prefix}:{g}"


def _contract(x: torch.Tensor, dim: int, P: torch.Tensor) -> torch.Tensor:
    """Apply ``P [C_s, C_t]`` along ``dim`` of ``x`` (size C_t there, C_s after)."""
    return torch.movedim(torch.tensordot(P, torch.movedim(x, dim, 0), dims=1), 0, dim)


def _teacher_name(name: str, enc_map: list[int], dec_map: list[int]) -> str:
    def sub(m):
        part, i = m.group(1), int(m.group(2))
        return f"{part}.blocks.{(enc_map if part == 'encoder' else dec_map)[i]}."
    return re.sub(r"^(encoder|decoder)\.blocks\.(\d+)\.", sub, name)


def _attention(t: dict, prefix_t: str, heads_t: int, heads_s: int, c_s: int, P: torch.Tensor) -> dict:
    """Student ``qkv``/``out`` weights of one block from the teacher's (see the module docstring, step 3)."""
    w, b = t[prefix_t + "qkv.weight"], t[prefix_t + "qkv.bias"]  # [3 C_t, C_t], [3 C_t]
    wo, bo = t[prefix_t + "out.weight"], t[prefix_t + "out.bias"]  # [C_t, C_t], [C_t]
    c_t = w.shape[1]
    d_t, d_s = c_t // heads_t, c_s // heads_s
    n = min(d_s, d_t)
    q, k, v = w.view(3, heads_t, d_t, c_t)
    bq, bk, bv = b.view(3, heads_t, d_t)
    wo_h = wo.view(c_t, heads_t, d_t)
    rows_q, rows_k, rows_v, bias_q, bias_k, bias_v, cols_o = [], [], [], [], [], [], []
    for h in layer_map(heads_t, heads_s):
        qk_score = q[h].norm(dim=1) * k[h].norm(dim=1)  # [d_t]: what each q·k dimension contributes
        vo_score = v[h].norm(dim=1) * wo_h[:, h].norm(dim=0)
        iq = qk_score.argsort(descending=True)[:n].sort().values
        iv = vo_score.argsort(descending=True)[:n].sort().values
        rows_q.append(q[h][iq]), rows_k.append(k[h][iq]), rows_v.append(v[h][iv])
        bias_q.append(bq[h][iq]), bias_k.append(bk[h][iq]), bias_v.append(bv[h][iv])
        cols_o.append(wo_h[:, h, iv])

    def pad(parts, dim):  # a head dimension larger than the teacher's: remaining rows start at zero
        x = torch.stack(parts)  # [heads_s, n, ...]
        if n < d_s:
            shape = list(x.shape)
            shape[1] = d_s - n
            x = torch.cat([x, x.new_zeros(shape)], dim=1)
        return x.reshape(heads_s * d_s, *x.shape[2:]) if dim == 0 else x

    qkv_w = torch.cat([pad(rows_q, 0), pad(rows_k, 0), pad(rows_v, 0)])  # [3 C_s, C_t]
    qkv_b = torch.cat([pad(bias_q, 0), pad(bias_k, 0), pad(bias_v, 0)])
    out_cols = pad([c.T for c in cols_o], 0).T  # [C_t, C_s]
    return {"qkv.weight": qkv_w @ P.T, "qkv.bias": qkv_b, "out.weight": P @ out_cols, "out.bias": P @ bo}


@torch.no_grad()
def transfer_weights(teacher, student, P: torch.Tensor, phone_rows: list[int | None],
                     language_rows: list[int | None], speaker_rows: list[int | None]) -> list[str]:
    """Copy the teacher's knowledge into ``student`` in place (see the module docstring).

    Args:
        P: ``[C_s, C_t]`` residual projection (:func:`residual_projection`).
        phone_rows / language_rows / speaker_rows: for each student row of the id / language / speaker
            embedding, the teacher row it continues, or None for a new entry (left for
            :mod:`multikd.distill.newlang` to fill).
    Returns:
        names of student parameters left at their random initialisation (none, for the shipped presets).
    """
    tc, sc = teacher.config, student.config
    if (tc.n_mels, tc.n_bins, tc.n_features) != (sc.n_mels, sc.n_bins, sc.n_features):
        raise ConfigError("teacher and student differ in n_mels, n_bins or the feature table",
                          fix="only widths, depths and heads may differ between teacher and student")
    enc_map, dec_map = layer_map(tc.encoder_layers, sc.encoder_layers), layer_map(tc.decoder_layers, sc.decoder_layers)
    t = {k: v.float() for k, v in teacher.state_dict().items()}
    new = {}
    groups: dict[str, torch.Tensor] = {}
    untouched = []
    for name, s_param in student.state_dict().items():
        if name == "embed.phone_features":
            continue  # the student's own (merged) feature table, from its config
        tname = _teacher_name(name, enc_map, dec_map)
        if re.search(r"\.attn\.(qkv|out)\.", name):
            if name.endswith("qkv.weight"):
                prefix_s, prefix_t = name[: -len("qkv.weight")], tname[: -len("qkv.weight")]
                for k, v in _attention(t, prefix_t, tc.heads, sc.heads, sc.hidden, P).items():
                    new[prefix_s + k] = v
            continue
        if name in ("embed.ids.weight", "condition.language.weight", "condition.speaker.weight"):
            rows = {"embed.ids.weight": phone_rows, "condition.language.weight": language_rows,
                    "condition.speaker.weight": speaker_rows}[name]
            out = s_param.clone()
            mapped = t[tname] @ P.T  # [rows_t, C_s]
            for i, r in enumerate(rows):
                if r is not None:
                    out[i] = mapped[r]
            new[name] = out
            continue
        x = t[tname]
        roles = _roles(name, x.dim())
        for d, role in enumerate(roles):
            if role == "C":
                if "norm" in name and name.endswith("weight"):
                    # LayerNorm outputs have norm √C: a student output P·LN_t(x) has norm ≈ √C_t, so
                    # the gains grow by √(C_t / C_s) to keep what the next layer reads at its scale.
                    x = _contract(x, d, P * P) * (P.shape[1] / P.shape[0]) ** 0.5
                else:
                    x = _contract(x, d, P)
            elif role.startswith("u:"):
                key = _group_key(tname, role, tc.predictor_layers)
                if key not in groups:  # the producer (first parameter holding the group on dim 0)
                    score = x.reshape(x.shape[0], -1).norm(dim=1) if d == 0 else x.transpose(0, d).reshape(x.shape[d], -1).norm(dim=1)
                    groups[key] = score.argsort(descending=True)
                idx = groups[key][: s_param.shape[d]].sort().values
                x = x.index_select(d, idx)
        out = s_param.clone()
        region = tuple(slice(0, min(a, b)) for a, b in zip(out.shape, x.shape))
        out[region] = x[region].to(out.dtype)
        if out.shape != x.shape:
            untouched.append(name)
        new[name] = out
    student.load_state_dict(new, strict=False)
    if untouched:
        log.info("partly random (student wider there than the teacher): %s", ", ".join(untouched))
    return untouched
