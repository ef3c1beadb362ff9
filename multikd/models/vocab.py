"""Growing a trained model's phone vocabulary: phones it never saw get an embedding from their features.

The input embedding of a phone is ``id row + W_f · features``. For a phone added after training, the
feature projection ``W_f`` (trained on every phone) already places it among the phones it resembles; its
id row, which training never touched, is set to the distance-weighted mean (weights ``1 / (d + 0.1)``) of
the id rows of its :data:`K_NEAREST` nearest known phones by articulatory feature distance. This is the
design's promise that an unseen phone still means something; the distillation package initialises a
student's new phones the same way.
"""
from __future__ import annotations

import torch
from torch import nn

from multikd.text import features
from multikd.text.symbols import SPECIALS, SymbolTable

K_NEAREST = 3


def neighbour_weights(distances: list[float]) -> list[float]:
    """Normalised weights ``1 / (d + 0.1)`` of neighbours at feature distances ``distances``.

    The 0.1 keeps a neighbour at distance 0 (same features, e.g. t͡ɕ and t͡ɕʲ) from taking all the weight
    by division by zero while still dominating.
    """
    w = [1.0 / (d + 0.1) for d in distances]
    total = sum(w)
    return [x / total for x in w]


def nearest_rows(token: str, known: list[str], symbols: SymbolTable) -> dict[int, float]:
    """Row ids and normalised weights of ``token``'s nearest known phones (empty if none compare)."""
    near = features.nearest(token, known, k=K_NEAREST)
    return {symbols.id(p): w for (p, _), w in zip(near, neighbour_weights([d for _, d in near]))}


@torch.no_grad()
def add_phones(model, symbols: SymbolTable, tokens) -> list[tuple[str, list[tuple[str, float]]]]:
    """Append ``tokens`` the table lacks to ``symbols`` and to ``model``'s embedding, in place.

    Returns:
        ``[(token, [(nearest known phone, distance), ...]), ...]`` for every token added — for the
        caller to report; existing ids and rows never change.
    """
    known = [t for t in symbols.phones if t not in SPECIALS]
    added = symbols.merge(tokens)
    if not added:
        return []
    emb = model.embed
    old = emb.ids
    new = nn.Embedding(len(symbols), old.embedding_dim, padding_idx=old.padding_idx).to(old.weight.device,
                                                                                           old.weight.dtype)
    new.weight.zero_()
    new.weight[: old.num_embeddings] = old.weight
    report = []
    for tok in added:
        rows = nearest_rows(tok, known, symbols)
        for i, w in rows.items():
            new.weight[symbols.id(tok)] += w * old.weight[i]
        report.append((tok, features.nearest(tok, known, k=K_NEAREST)))
    emb.ids = new
    feats = torch.tensor(symbols.feature_matrix(), dtype=emb.phone_features.dtype, device=emb.phone_features.device)
    emb.phone_features = feats
    model.config.vocab_size = len(symbols)
    model.config.phone_features = feats.tolist()
    return report
