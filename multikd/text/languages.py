"""Language registry: per-language settings are data (``lexicons/<iso639-3>-<Script>/lang.toml``).

Keys are ISO 639-3 (``spa``); ISO 639-1 and BCP-47 aliases (``es``, ``es-MX``, ``en_US``) listed in a
lang.toml resolve to it. Folders are searched in ``$MULTIKD_LEXICONS`` (``os.pathsep``-separated) first,
then in the repository's ``lexicons/``. A lang.toml looks like::

    [language]
    iso639_3 = "spa"
    name = "Spanish"
    script = "Latn"                 # ISO 15924
    aliases = ["es", "es-es", "es-419"]

    [g2p]
    order = ["lexicon", "espeak", "epitran"]  # tried word by word, first success wins
    espeak_voice = "es"
    epitran_code = "spa-Latn"
    num2words = "es"                # number expansion (omit where num2words lacks the language)
    decimal_separator = ","

    [text]
    lowercase = true
    notes = "..."

    [source]
    licence = "CC0-1.0"
    source = "written for multikd"
"""
from __future__ import annotations

import difflib
import os
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from multikd.errors import LexiconError, UnknownLanguageError

REPO_LEXICONS = Path(__file__).resolve().parents[2] / "lexicons"


@dataclass(frozen=True)
class Language:
    """Settings of one language, read from its lang.toml."""

    iso: str
    name: str
    script: str
    folder: Path
    aliases: tuple[str, ...] = ()
    g2p_order: tuple[str, ...] = ("lexicon", "espeak")
    espeak_voice: str | None = None
    epitran_code: str | None = None
    num2words: str | None = None
    decimal_separator: str = "."
    lowercase: bool = True
    extra_scripts: tuple[str, ...] = ()
    unmarked_tone: str | None = None
    notes: str = ""
    licence: str = ""
    source: str = ""
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def lang_toml(self) -> Path:
        return self.folder / "lang.toml"

    @property
    def lexicon_path(self) -> Path:
        return self.folder / "lexicon.tsv"

    @property
    def sentences_path(self) -> Path:
        return self.folder / "sentences.txt"

    def sentences(self) -> list[str]:
        """The language's test sentences (one per line, ``#`` comments skipped)."""
        if not self.sentences_path.exists():
            return []
        lines = self.sentences_path.read_text(encoding="utf-8").splitlines()
        return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def _get(d: dict, section: str, key: str, typ, where: Path, required=False, default=None):
    sec = d.get(section, {})
    if not isinstance(sec, dict):
        raise LexiconError(f"[{section}] must be a table", where=str(where))
    if key not in sec:
        if required:
            raise LexiconError(f"missing required key {section}.{key}", where=str(where),
                               fix=f"add `{key} = ...` under [{section}]")
        return default
    val = sec[key]
    if typ is tuple:
        if not isinstance(val, list) or not all(isinstance(x, str) for x in val):
            raise LexiconError(f"{section}.{key} must be a list of strings", where=str(where))
        return tuple(val)
    if not isinstance(val, typ):
        raise LexiconError(f"{section}.{key} must be of type {typ.__name__}, got {type(val).__name__}",
                           where=str(where))
    return val


def parse_lang_toml(path: Path) -> Language:
    """Read and type-check one lang.toml. Raises LexiconError with the file (and line for syntax errors)."""
    path = Path(path)
    try:
        d = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LexiconError("lang.toml not found", where=str(path)) from None
    except tomllib.TOMLDecodeError as e:
        # tomllib reports "(at line N, column M)"; keep it in the message.
        raise LexiconError(f"invalid TOML: {e}", where=str(path), fix="fix the syntax") from None
    order = _get(d, "g2p", "order", tuple, path, required=True)
    return Language(
        iso=_get(d, "language", "iso639_3", str, path, required=True),
        name=_get(d, "language", "name", str, path, required=True),
        script=_get(d, "language", "script", str, path, required=True),
        folder=path.parent,
        aliases=_get(d, "language", "aliases", tuple, path, default=()),
        g2p_order=order,
        espeak_voice=_get(d, "g2p", "espeak_voice", str, path),
        epitran_code=_get(d, "g2p", "epitran_code", str, path),
        num2words=_get(d, "g2p", "num2words", str, path),
        decimal_separator=_get(d, "g2p", "decimal_separator", str, path, default="."),
        lowercase=_get(d, "text", "lowercase", bool, path, default=True),
        extra_scripts=_get(d, "text", "extra_scripts", tuple, path, default=()),
        unmarked_tone=_get(d, "g2p", "unmarked_tone", str, path),
        notes=_get(d, "text", "notes", str, path, default=""),
        licence=_get(d, "source", "licence", str, path, required=True),
        source=_get(d, "source", "source", str, path, required=True),
        raw=d,
    )


def search_path() -> list[Path]:
    paths = [Path(p) for p in os.environ.get("MULTIKD_LEXICONS", "").split(os.pathsep) if p]
    if REPO_LEXICONS.is_dir():
        paths.append(REPO_LEXICONS)
    return paths


def _alias_key(tag: str) -> str:
    return tag.strip().lower().replace("_", "-")


class LanguageRegistry:
    """All languages found on the search path, indexed by ISO 639-3 code and alias."""

    def __init__(self, roots: list[Path] | None = None):
        self.roots = [Path(r) for r in (roots if roots is not None else search_path())]
        self.languages: dict[str, Language] = {}
        self._alias: dict[str, str] = {}
        for root in self.roots:
            for toml in sorted(root.glob("*/lang.toml")):
                lang = parse_lang_toml(toml)
                if lang.iso in self.languages:  # earlier roots (user folders) override the repo's
                    continue
                self.languages[lang.iso] = lang
        for lang in self.languages.values():
            for a in (lang.iso, *lang.aliases):
                self._alias.setdefault(_alias_key(a), lang.iso)

    def resolve(self, key: str) -> Language:
        """ISO 639-3 code, ISO 639-1 code or BCP-47 tag → Language.

        Raises:
            UnknownLanguageError: with close matches and how to add the language.
        """
        k = _alias_key(key)
        iso = self._alias.get(k) or self._alias.get(k.split("-")[0])
        if iso:
            return self.languages[iso]
        names = {lang.name.lower(): lang.iso for lang in self.languages.values()}
        close = difflib.get_close_matches(k, list(self._alias) + list(names), n=4, cutoff=0.5)
        close_iso = sorted({self._alias.get(c) or names[c] for c in close})
        hint = f"did you mean {', '.join(close_iso)}? " if close_iso else ""
        raise UnknownLanguageError(
            f"unknown language {key!r} (known: {', '.join(sorted(self.languages))})",
            fix=f"{hint}to add it, create lexicons/<iso639-3>-<Script>/lang.toml (see CONTRIBUTING.md)",
        )


_default: LanguageRegistry | None = None
_default_lock = threading.Lock()


def default_registry() -> LanguageRegistry:
    global _default
    with _default_lock:
        if _default is None:
            _default = LanguageRegistry()
        return _default


def get_language(key: str) -> Language:
    return default_registry().resolve(key)
