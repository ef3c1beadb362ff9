"""Word error rate: text normalisation for scoring and word-level edit distance (no ASR here).

WER = (substitutions + deletions + insertions) / reference words, after both sides are normalised the
same way: Unicode NFKC, lowercase, punctuation removed (an apostrophe inside a word is kept, as ASR
dictionaries spell "don't"), whitespace collapsed. Corpus WER pools edits and words over utterances
(:func:`pooled_wer`), which is what ASR papers report; a mean of per-utterance WERs over-weights short
sentences.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Sequence

__all__ = ["normalize_for_wer", "edit_distance", "word_errors", "pooled_wer"]

_INNER_APOSTROPHE = re.compile(r"(?<=\w)['’](?=\w)")


def normalize_for_wer(text: str) -> list[str]:
    """Words of ``text`` for scoring: NFKC, lowercase, punctuation dropped, apostrophes inside words kept."""
    s = unicodedata.normalize("NFKC", text).lower()
    s = _INNER_APOSTROPHE.sub("\u0000", s)  # protect word-internal apostrophes from the punctuation pass
    s = "".join(" " if unicodedata.category(ch).startswith(("P", "S")) else ch for ch in s)
    return s.replace("\u0000", "'").split()


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences (unit costs), O(len(ref) · len(hyp)) time."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def word_errors(ref_text: str, hyp_text: str) -> tuple[int, int]:
    """(word edits, reference words) after :func:`normalize_for_wer` on both sides."""
    ref, hyp = normalize_for_wer(ref_text), normalize_for_wer(hyp_text)
    return edit_distance(ref, hyp), len(ref)


def pooled_wer(pairs: Iterable[tuple[int, int]]) -> float:
    """Σ edits / Σ reference words over (edits, words) pairs; NaN when there are no reference words."""
    edits = words = 0
    for e, w in pairs:
        edits, words = edits + e, words + w
    return edits / words if words else float("nan")
