"""Sentence splitting of front-end tokens, shared by the torch synthesizer and the ONNX runtime.

Kept in the text layer (no torch import) so :mod:`multikd.export.runtime` can split text exactly as
:mod:`multikd.synthesis` does.
"""
from __future__ import annotations

from multikd.text.symbols import EXCLAMATION, QUESTION, SENTENCE_END, SPECIALS

SENTENCE_TOKENS = {SPECIALS[i] for i in (SENTENCE_END, QUESTION, EXCLAMATION)}


def split_sentences(phones: list[str]) -> list[list[str]]:
    """Front-end tokens → one token list per sentence, each ending with its ``.``/``?``/``!`` (if any)."""
    out, current = [], []
    for p in phones:
        current.append(p)
        if p in SENTENCE_TOKENS:
            out.append(current)
            current = []
    if any(p not in SPECIALS for p in current):
        out.append(current)
    elif current and out:
        out[-1] += current  # trailing boundary tokens belong to the last sentence
    return [s for s in out if any(p not in SPECIALS for p in s)]
