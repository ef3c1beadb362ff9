"""The symbol table: token ↔ id, saved as JSON with every model.

Ids 0–7 are fixed for every model ever made by multikd (``SPECIALS``): pad, bos, eos, word boundary and
the four pause/intonation tokens that punctuation becomes. Phones, stress and tone tokens follow. A fresh
table sorts its tokens by code point so the same inventory always gives the same ids; :meth:`merge` only
*appends*, so adding a new language's phones to a teacher's table never renumbers the teacher's.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from multikd.errors import SymbolTableError
from multikd.text import features

PAD, BOS, EOS, WORD_BOUNDARY, PAUSE, SENTENCE_END, QUESTION, EXCLAMATION = range(8)
SPECIALS = ("<pad>", "<bos>", "<eos>", "#", ",", ".", "?", "!")
assert SPECIALS == features.SPECIAL_SLOTS, "feature slots and specials must agree"
FORMAT = "multikd-symbols"
VERSION = 1


class SymbolTable:
    """An ordered token inventory with fixed special ids."""

    def __init__(self, tokens=()):
        self._symbols: list[str] = list(SPECIALS)
        self._index: dict[str, int] = {s: i for i, s in enumerate(SPECIALS)}
        self.merge(tokens)

    # -- lookup -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._symbols)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def __eq__(self, other) -> bool:
        return isinstance(other, SymbolTable) and self._symbols == other._symbols

    @property
    def symbols(self) -> list[str]:
        return list(self._symbols)

    @property
    def phones(self) -> list[str]:
        """Every non-special token, in id order."""
        return self._symbols[len(SPECIALS):]

    def id(self, token: str) -> int:
        try:
            return self._index[token]
        except KeyError:
            near = ", ".join(f"{p} ({d:.2f})" for p, d in self._nearest(token))
            raise SymbolTableError(
                f"token {token!r} is not in the symbol table ({len(self)} symbols)",
                fix=f"nearest known: {near}; add the language's phones with `multikd phones --merge-into`"
                if near else "add the language's phones with `multikd phones --merge-into`",
            ) from None

    def _nearest(self, token: str):
        try:
            return features.nearest(token, self.phones)
        except KeyError:
            return []

    def encode(self, tokens: list[str], *, add_bos_eos: bool = True) -> list[int]:
        """Token strings → ids (``[BOS] + ids + [EOS]`` by default)."""
        ids = [self.id(t) for t in tokens]
        return [BOS, *ids, EOS] if add_bos_eos else ids

    def decode(self, ids) -> list[str]:
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self._symbols):
                raise SymbolTableError(f"id {i} is outside the table (0..{len(self._symbols) - 1})")
            out.append(self._symbols[i])
        return out

    # -- growth -----------------------------------------------------------------------------------
    def merge(self, tokens) -> list[str]:
        """Append tokens not yet in the table (sorted, for determinism); return the ones added.

        Every token must have articulatory features, so a typo cannot enter a model's vocabulary.
        """
        added = sorted({t for t in tokens if t not in self._index})
        for t in added:
            try:
                features.token_features(t)
            except KeyError:
                raise SymbolTableError(f"{t!r} is not a phone, stress, tone or special token",
                                       fix="only IPA phones produced by the front end can be added") from None
        for t in added:
            self._index[t] = len(self._symbols)
            self._symbols.append(t)
        return added

    def feature_matrix(self) -> np.ndarray:
        """``[len(self), N_FEATURES]`` float32, row i = features of id i."""
        return features.feature_matrix(self._symbols)

    # -- persistence ------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "specials": list(SPECIALS), "symbols": self._symbols,
                "feature_names": list(features.FEATURE_NAMES)}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, d: dict, where: str = "symbol table") -> "SymbolTable":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise SymbolTableError("not a multikd symbol table (missing \"format\": \"multikd-symbols\")",
                                   where=where)
        if d.get("version") != VERSION:
            raise SymbolTableError(f"unsupported version {d.get('version')!r} (this multikd reads {VERSION})",
                                   where=where, fix="upgrade multikd")
        symbols = d.get("symbols")
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise SymbolTableError("\"symbols\" must be a list of strings", where=where)
        if tuple(symbols[: len(SPECIALS)]) != SPECIALS:
            raise SymbolTableError(f"the first {len(SPECIALS)} symbols must be {list(SPECIALS)}", where=where)
        dup = {s for s in symbols if symbols.count(s) > 1}
        if dup:
            raise SymbolTableError(f"duplicate symbols {sorted(dup)}", where=where)
        table = cls()
        for s in symbols[len(SPECIALS):]:  # one at a time: keep the saved order exactly
            table.merge([s])
        return table

    @classmethod
    def load(cls, path: str | Path) -> "SymbolTable":
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SymbolTableError("file not found", where=str(path)) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise SymbolTableError(f"not valid JSON ({e})", where=str(path)) from None
        return cls.from_dict(d, where=str(path))
