"""Typed errors a user can cause. Every message says what went wrong, where, and how to fix it.

The CLI catches :class:`MultikdError` and prints ``error: <message>`` with exit status 2; anything else
is a bug in multikd and keeps its traceback.
"""
from __future__ import annotations


class MultikdError(Exception):
    """Base of every error a user can cause (bad text, audio, config, lexicon, card, checkpoint).

    Args:
        what: the problem, in one sentence.
        where: file:line, utterance id, or character position; optional.
        fix: what the user should do about it; optional.
    """

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None):
        self.what, self.where, self.fix = what, where, fix
        msg = f"{where}: {what}" if where else what
        if fix:
            msg += f" — {fix}"
        super().__init__(msg)


class ConfigError(MultikdError):
    """A recipe/config file or value is missing, malformed or inconsistent."""


class UnknownLanguageError(MultikdError):
    """A language key that no lexicons/<iso>-<Script>/lang.toml defines."""


class TextError(MultikdError):
    """Input text the front end cannot turn into phones (empty, unsupported characters)."""


class EmptyTextError(TextError):
    """Empty or whitespace-only text."""


class UnsupportedCharacterError(TextError):
    """Characters that no G2P backend of the language can handle; ``problems`` lists (position, char, reason)."""

    def __init__(self, what: str, *, problems: list[tuple[int, str, str]], where: str | None = None,
                 fix: str | None = None):
        self.problems = problems
        super().__init__(what, where=where, fix=fix)


class G2PError(MultikdError):
    """A G2P backend failed or produced something that is not IPA."""


class IPAError(MultikdError):
    """A string that is not a valid IPA phone (no articulatory features can be given to it)."""


class LexiconError(MultikdError):
    """A malformed lexicon folder, lang.toml or lexicon.tsv line."""


class SymbolTableError(MultikdError):
    """A symbol table file that is malformed, or a phone missing from a table."""


class AudioError(MultikdError):
    """Audio that cannot be read or fails a quality check (empty, silent, clipped, too short/long)."""


class DataCardError(MultikdError):
    """A data card (data_cards/*.md) with missing or malformed fields."""


class CorpusError(MultikdError):
    """A corpus that cannot be loaded (missing files, wrong columns, no licence without opt-in)."""
