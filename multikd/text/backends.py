"""G2P backends, registered by name: ``lexicon``, ``epitran``, ``espeak``.

A backend turns a batch of normalised words into raw phone units, word by word. It returns ``None`` for
a word it cannot transcribe, and the front end tries the next backend in the language's order. A word's
result is a list of *output words* (espeak reads "123" as two words), each a list of raw units that
:mod:`multikd.text.ipa` normalises.

Backend objects are expensive (an ``Epitran`` costs seconds to build; an espeak voice must be loaded), so
they are created once per language/voice and reused (:func:`get_backend`).
"""
from __future__ import annotations

import abc
import logging
import threading
from pathlib import Path
from typing import Callable

from multikd.errors import G2PError
from multikd.text.languages import Language

log = logging.getLogger(__name__)

RawWord = list[list[str]]  # output words × raw units
_BACKENDS: dict[str, Callable[[Language], "Backend"]] = {}
_instances: dict[tuple[str, str], "Backend"] = {}
_lock = threading.Lock()


def register_backend(name: str):
    def deco(cls):
        cls.name = name
        _BACKENDS[name] = cls
        return cls

    return deco


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


def get_backend(name: str, lang: Language) -> "Backend":
    """The shared backend object for (name, language). Raises G2PError for an unknown name."""
    if name not in _BACKENDS:
        raise G2PError(f"unknown G2P backend {name!r} in {lang.lang_toml}",
                       fix=f"use one of {', '.join(backend_names())}")
    key = (name, str(lang.folder))
    with _lock:
        if key not in _instances:
            _instances[key] = _BACKENDS[name](lang)
        return _instances[key]


class Backend(abc.ABC):
    name = "base"

    @abc.abstractmethod
    def transcribe(self, words: list[str]) -> list[RawWord | None]:
        """One entry per input word: its output words' raw units, or None if this backend cannot."""


@register_backend("lexicon")
class LexiconBackend(Backend):
    """The language's ``lexicon.tsv`` (first variant of a word wins)."""

    def __init__(self, lang: Language):
        from multikd.text.lexicon import read_lexicon

        self.entries = read_lexicon(lang.lexicon_path) if lang.lexicon_path.exists() else {}

    def transcribe(self, words):
        return [[self.entries[w][0]] if w in self.entries else None for w in words]


_EPITRAN: dict[str, object] = {}


@register_backend("epitran")
class EpitranBackend(Backend):
    """epitran's rule maps (offline for ~160 language-script codes)."""

    def __init__(self, lang: Language):
        if not lang.epitran_code:
            raise G2PError(f"{lang.iso}: g2p.order lists epitran but g2p.epitran_code is not set",
                           where=str(lang.lang_toml), fix="set epitran_code or remove epitran from the order")
        self.code = lang.epitran_code
        self._epi = None

    def _get(self):
        if self._epi is None:
            with _lock:
                if self.code not in _EPITRAN:
                    import epitran

                    log.debug("loading epitran %s (takes a few seconds, once)", self.code)
                    try:
                        _EPITRAN[self.code] = epitran.Epitran(self.code)
                    except Exception as e:  # epitran raises bare Exceptions for missing maps
                        raise G2PError(f"epitran cannot load {self.code!r}: {e}",
                                       fix="check epitran_code in lang.toml") from e
                self._epi = _EPITRAN[self.code]
        return self._epi

    def transcribe(self, words):
        epi = self._get()
        out: list[RawWord | None] = []
        for w in words:
            units = [u for u in epi.trans_list(w) if u.strip()]
            out.append([units] if units else None)
        return out


@register_backend("espeak")
class EspeakBackend(Backend):
    """espeak-ng through phonemizer, with stress marks, one batched call per list of words."""

    def __init__(self, lang: Language):
        if not lang.espeak_voice:
            raise G2PError(f"{lang.iso}: g2p.order lists espeak but g2p.espeak_voice is not set",
                           where=str(lang.lang_toml), fix="set espeak_voice or remove espeak from the order")
        try:
            from phonemizer.backend import EspeakBackend as _Espeak
            from phonemizer.separator import Separator
        except ImportError as e:  # pragma: no cover - phonemizer is a hard dependency
            raise G2PError("phonemizer is not installed", fix="run scripts/setup.sh") from e
        quiet = logging.getLogger("multikd.phonemizer")
        quiet.setLevel(logging.ERROR)  # it warns about word-count mismatches we handle ourselves
        try:
            self._b = _Espeak(lang.espeak_voice, with_stress=True, language_switch="remove-flags",
                              preserve_punctuation=False, logger=quiet)
        except RuntimeError as e:
            raise G2PError(f"espeak-ng cannot load voice {lang.espeak_voice!r}: {e}",
                           where=str(lang.lang_toml),
                           fix="install espeak-ng (scripts/setup.sh) or fix g2p.espeak_voice") from e
        self._sep = Separator(phone=" ", word="|", syllable="")

    def transcribe(self, words):
        if not words:
            return []
        lines = self._b.phonemize(words, separator=self._sep, strip=True, njobs=1)
        if len(lines) != len(words):
            raise G2PError(f"espeak returned {len(lines)} lines for {len(words)} words")
        out: list[RawWord | None] = []
        for line in lines:
            ws = [[u for u in w.split(" ") if u] for w in line.split("|")]
            ws = [w for w in ws if w]
            out.append(ws or None)
        return out


def espeak_voices() -> set[str]:
    """Voice codes espeak-ng offers here (empty when espeak-ng is missing)."""
    try:
        from phonemizer.backend import EspeakBackend as _Espeak

        return set(_Espeak.supported_languages())
    except (ImportError, RuntimeError):
        return set()


def epitran_codes() -> set[str]:
    """Epitran codes whose rule map ships with the installed epitran."""
    try:
        import epitran
    except ImportError:
        return set()
    maps = Path(epitran.__file__).parent / "data" / "map"
    return {p.stem for p in maps.glob("*.csv")}
