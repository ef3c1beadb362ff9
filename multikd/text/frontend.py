"""The front end: text in a language → phones of the shared IPA space.

    text ─normalize─▶ words + boundaries ─G2P chain (lang.toml order)─▶ raw units ─ipa─▶ tokens

Words are transcribed one by one (so a lexicon entry overrides exactly one word and results can be
cached), in batches per backend: all words of all texts that the first backend can do go in one call, the
rest go to the next backend. A word no backend can transcribe makes its text fail with the word's
position; in a batch the other texts still succeed (``errors="collect"``).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field

from multikd.errors import G2PError, IPAError, MultikdError, UnsupportedCharacterError
from multikd.text.backends import get_backend
from multikd.text.ipa import segment_units
from multikd.text.languages import Language, get_language
from multikd.text.normalize import boundary_sequence, normalize

log = logging.getLogger(__name__)


@dataclass
class Word:
    word: str  # the normalised word
    phones: list[str]  # its tokens (phones, stress, tone); several output words are joined with "#"
    backend: str
    start: int  # character offset in the NFC input


@dataclass
class G2PResult:
    text: str
    language: str
    words: list[Word]
    phones: list[str]  # the model input: word tokens with boundary tokens (# , . ? !) between them

    def to_json(self) -> dict:
        return {"text": self.text, "language": self.language, "phones": self.phones,
                "words": [asdict(w) for w in self.words]}


@dataclass
class _Failure:
    reasons: list[str] = field(default_factory=list)


class Frontend:
    """G2P for one language. Reuse one object per language (see :func:`get_frontend`)."""

    def __init__(self, language: str | Language):
        self.lang = language if isinstance(language, Language) else get_language(language)
        self._cache: dict[str, tuple[str, list[str]]] = {}  # word → (backend, tokens)
        self._lock = threading.Lock()

    def phonemize(self, text: str) -> G2PResult:
        """One text → :class:`G2PResult`; raises a :class:`~multikd.errors.TextError` subclass."""
        (res,) = self.phonemize_batch([text], errors="raise")
        return res

    def phonemize_batch(self, texts: list[str], errors: str = "raise") -> list:
        """Many texts at once (one backend call per backend for all their words).

        Args:
            errors: ``"raise"`` raises the first text's error; ``"collect"`` returns the error object in
                that text's place so a corpus preparer can count and report every rejection.
        """
        if errors not in ("raise", "collect"):
            raise ValueError(f"errors must be 'raise' or 'collect', not {errors!r}")
        parsed: list = []
        for t in texts:
            try:
                parsed.append(normalize(t, self.lang))
            except MultikdError as e:
                if errors == "raise":
                    raise
                parsed.append(e)
        words = {tok.text for p in parsed if not isinstance(p, Exception) for tok in p[1] if tok.kind == "word"}
        failures = self._transcribe(words)
        results: list = []
        for t, p in zip(texts, parsed):
            if isinstance(p, Exception):
                results.append(p)
                continue
            try:
                results.append(self._assemble(p, failures))
            except MultikdError as e:
                if errors == "raise":
                    raise
                results.append(e)
        return results

    def _transcribe(self, words: set[str]) -> dict[str, _Failure]:
        """Fill the cache for ``words``; return the words no backend could do, with reasons."""
        with self._lock:
            pending = sorted(w for w in words if w not in self._cache)
            failures = {w: _Failure() for w in pending}
            for name in self.lang.g2p_order:
                if not pending:
                    break
                backend = get_backend(name, self.lang)
                outputs = backend.transcribe(pending)
                still = []
                for w, out in zip(pending, outputs):
                    if out is None:
                        failures[w].reasons.append(f"{name}: no transcription")
                        still.append(w)
                        continue
                    try:
                        tokens: list[str] = []
                        for k, units in enumerate(out):
                            if k:
                                tokens.append("#")
                            tokens += segment_units(units, unmarked_tone=self.lang.unmarked_tone)
                        if not any(t not in ("#",) for t in tokens):
                            raise IPAError("empty transcription")
                        self._cache[w] = (name, tokens)
                        del failures[w]
                    except IPAError as e:
                        failures[w].reasons.append(f"{name}: {e.what}")
                        still.append(w)
                pending = still
            return failures

    def _assemble(self, parsed, failures: dict[str, _Failure]) -> G2PResult:
        nfc, tokens = parsed
        bad = [t for t in tokens if t.kind == "word" and t.text in failures]
        if bad:
            problems = [(t.start, t.text, "; ".join(failures[t.text].reasons)) for t in bad]
            shown = "; ".join(f"word {w!r} at position {p} ({why})" for p, w, why in problems[:3])
            raise UnsupportedCharacterError(
                f"no G2P backend of {self.lang.iso} ({' ▸ '.join(self.lang.g2p_order)}) can transcribe "
                f"{len(bad)} word(s): {shown}",
                problems=problems, fix=f"add the word(s) to {self.lang.lexicon_path} or fix the text")
        words: list[Word] = []
        phones: list[str] = []
        for kind, tok in boundary_sequence(tokens):
            if kind == "word":
                backend, toks = self._cache[tok.text]
                words.append(Word(tok.text, list(toks), backend, tok.start))
                phones += toks
            else:
                phones.append(kind)
        if not phones:
            raise G2PError("transcription is empty")
        return G2PResult(text=nfc, language=self.lang.iso, words=words, phones=phones)


_frontends: dict[str, Frontend] = {}
_flock = threading.Lock()


def get_frontend(language: str | Language) -> Frontend:
    """A shared Frontend per language (backends and word caches are reused)."""
    lang = language if isinstance(language, Language) else get_language(language)
    with _flock:
        if lang.iso not in _frontends or _frontends[lang.iso].lang != lang:
            _frontends[lang.iso] = Frontend(lang)
        return _frontends[lang.iso]


def phonemize(text: str, language: str) -> G2PResult:
    """Convenience: ``phonemize("el perro", "spa").phones``."""
    return get_frontend(language).phonemize(text)
