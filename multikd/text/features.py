"""Articulatory feature vectors for every token of the shared phone space.

Layout of a vector (``FEATURE_NAMES``):

- panphon's 24 distinctive features (−1, 0, +1) for phones;
- ``half_long`` (ˑ), ``stress_primary``, ``stress_secondary`` for stress tokens;
- ``tone``, ``tone_start``, ``tone_end`` for tone tokens (levels mapped ˩=−1 … ˥=+1, so a contour is
  its start and end);
- one slot per special symbol (pad, bos, eos, word boundary, pauses) so specials are distinct.

Panphon covers the phone's base letter and most diacritics. Where it lacks a diacritic (espeak's ``r̝̊``,
``ə˞``), the unknown diacritics are dropped for the *feature lookup only*: the phone keeps its own symbol
and id, and its features are those of its nearest describable form. A phone whose base letter panphon
does not know is not a phone (:func:`is_known_phone` is False).
"""
from __future__ import annotations

import functools
import threading
import unicodedata

import numpy as np

from multikd.text.ipa import STRESS_PRIMARY, STRESS_SECONDARY, TONE_LETTERS, is_tone

_PANPHON_NAMES = ("syl", "son", "cons", "cont", "delrel", "lat", "nas", "strid", "voi", "sg", "cg", "ant",
                  "cor", "distr", "lab", "hi", "lo", "back", "round", "velaric", "tense", "long",
                  "hitone", "hireg")
_EXTRA = ("half_long", "stress_primary", "stress_secondary", "tone", "tone_start", "tone_end")
# Must match multikd.text.symbols.SPECIALS (checked there at import time).
SPECIAL_SLOTS = ("<pad>", "<bos>", "<eos>", "#", ",", ".", "?", "!")
FEATURE_NAMES = _PANPHON_NAMES + _EXTRA + tuple(f"special:{s}" for s in SPECIAL_SLOTS)
N_FEATURES = len(FEATURE_NAMES)
_IDX = {n: i for i, n in enumerate(FEATURE_NAMES)}
_TONE_LEVEL = {"˩": -1.0, "˨": -0.5, "˧": 0.0, "˦": 0.5, "˥": 1.0}

_lock = threading.Lock()
_table = None


def _panphon():
    """The panphon FeatureTable, built once (it costs ~1 s)."""
    global _table
    with _lock:
        if _table is None:
            import panphon

            _table = panphon.FeatureTable()
            if tuple(_table.names) != _PANPHON_NAMES:
                raise RuntimeError(f"panphon feature names changed: {_table.names}")
        return _table


@functools.lru_cache(maxsize=None)
def _panphon_vector(phone: str) -> tuple[float, ...] | None:
    """Panphon features of one phone, dropping trailing diacritics panphon lacks; None if unknown."""
    ft = _panphon()
    nfd = unicodedata.normalize("NFD", phone)
    candidates = [phone, nfd]
    # Progressively drop diacritics from the end (never the base letters) until panphon knows it.
    s = nfd
    while len(s) > 1 and (unicodedata.combining(s[-1]) or unicodedata.category(s[-1]) in ("Lm", "Sk")):
        s = s[:-1]
        candidates += [unicodedata.normalize("NFC", s), s]
    for c in candidates:
        segs = ft.ipa_segs(c)
        if len(segs) == 1 and segs[0] in (c, unicodedata.normalize("NFD", c), unicodedata.normalize("NFC", c)):
            vec = ft.word_to_vector_list(c, numeric=True)
            if len(vec) == 1:
                return tuple(float(x) for x in vec[0])
    return None


def is_known_phone(phone: str) -> bool:
    """True when ``phone`` is a single IPA segment that has articulatory features."""
    return _panphon_vector(phone) is not None


def is_syllabic(token: str) -> bool:
    """True for vowels and syllabic consonants (the phones that carry tone)."""
    v = _panphon_vector(token) if token and not is_tone(token) and token not in SPECIAL_SLOTS else None
    return v is not None and v[0] > 0


@functools.lru_cache(maxsize=None)
def token_features(token: str) -> np.ndarray:
    """Feature vector of one token (phone, stress, tone or special). Shape ``[N_FEATURES]``, float32.

    Raises:
        KeyError: the token is none of these (callers turn it into a typed error with context).
    """
    v = np.zeros(N_FEATURES, dtype=np.float32)
    if token in SPECIAL_SLOTS:
        v[_IDX[f"special:{token}"]] = 1.0
    elif token == STRESS_PRIMARY:
        v[_IDX["stress_primary"]] = 1.0
    elif token == STRESS_SECONDARY:
        v[_IDX["stress_secondary"]] = 1.0
    elif is_tone(token):
        v[_IDX["tone"]] = 1.0
        v[_IDX["tone_start"]] = _TONE_LEVEL[token[0]]
        v[_IDX["tone_end"]] = _TONE_LEVEL[token[-1]]
    else:
        pv = _panphon_vector(token)
        if pv is None:
            raise KeyError(token)
        v[: len(_PANPHON_NAMES)] = pv
        if "ˑ" in token:
            v[_IDX["half_long"]] = 1.0
    v.setflags(write=False)
    return v


def feature_matrix(tokens: list[str]) -> np.ndarray:
    """Stacked features, ``[len(tokens), N_FEATURES]`` float32."""
    return np.stack([token_features(t) for t in tokens]) if tokens else np.zeros((0, N_FEATURES), np.float32)


def nearest(token: str, candidates: list[str], k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` candidates closest to ``token`` by Euclidean feature distance, closest first.

    Only candidates of the same kind compete (phones with phones, tones with tones), so an unseen
    phone is never "closest" to a pause symbol.
    """
    target = token_features(token)
    kind = _kind(token)
    pool = [c for c in candidates if c != token and _kind(c) == kind]
    if not pool:
        return []
    d = np.linalg.norm(feature_matrix(pool) - target[None, :], axis=1)
    order = np.argsort(d, kind="stable")[:k]
    return [(pool[i], float(d[i])) for i in order]


def _kind(token: str) -> str:
    if token in SPECIAL_SLOTS:
        return "special"
    if token in (STRESS_PRIMARY, STRESS_SECONDARY):
        return "stress"
    if token and token[0] in TONE_LETTERS:
        return "tone"
    return "phone"
