"""Lexicon folders (``lexicons/<iso639-3>-<Script>/``): reading and validation for ``multikd check``.

``lexicon.tsv``: one entry per line, ``word<TAB>space-separated IPA phones``; ``#`` starts a comment line.
A word may appear on several lines: those are pronunciation variants and the first one is used by G2P.
Words are written as the front end sees them after normalisation (NFC, lowercase where the language
lowercases).
"""
from __future__ import annotations

import unicodedata
from pathlib import Path

from multikd.checks import Problem, register_checker
from multikd.errors import IPAError, LexiconError, MultikdError


def _parse_line(line: str):
    """(word, units) or raises ValueError with the problem and fix."""
    if "\t" not in line:
        raise ValueError("no TAB between word and phones", "write `word<TAB>p h o n e s`")
    word, _, phones = line.partition("\t")
    if "\t" in phones:
        raise ValueError("more than one TAB", "one TAB between the word and its phones")
    word = word.strip(" ")
    units = phones.split()
    if not word:
        raise ValueError("empty word", "write the word before the TAB")
    if any(c.isspace() for c in word):
        raise ValueError(f"word {word!r} contains whitespace", "one word per line")
    if not units:
        raise ValueError(f"no phones for {word!r}", "write space-separated IPA phones after the TAB")
    return word, units


def read_lexicon(path: Path) -> dict[str, list[list[str]]]:
    """Read a lexicon.tsv strictly: the first malformed line raises LexiconError with file:line."""
    entries: dict[str, list[list[str]]] = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            word, units = _parse_line(line)
        except ValueError as e:
            raise LexiconError(e.args[0], where=f"{path}:{lineno}", fix=e.args[1]) from None
        entries.setdefault(unicodedata.normalize("NFC", word), []).append(units)
    return entries


def check_lexicon_file(path: Path, lowercase: bool = True, unmarked_tone: str | None = None) -> list[Problem]:
    """Every problem of a lexicon.tsv, one Problem per bad line."""
    from multikd.text.ipa import segment_units

    problems: list[Problem] = []
    seen: dict[tuple[str, tuple[str, ...]], int] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        return [Problem(str(path), None, f"not UTF-8 ({e})", "save the file as UTF-8")]
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            word, units = _parse_line(line)
        except ValueError as e:
            problems.append(Problem(str(path), lineno, e.args[0], e.args[1]))
            continue
        if unicodedata.normalize("NFC", word) != word:
            problems.append(Problem(str(path), lineno, f"word {word!r} is not NFC-normalised",
                                    "save the text NFC-normalised"))
        if lowercase and word != word.lower():
            problems.append(Problem(str(path), lineno, f"word {word!r} has capitals but the language lowercases",
                                    f"write {word.lower()!r}"))
        try:
            segment_units(units, unmarked_tone=unmarked_tone)
        except IPAError as e:
            problems.append(Problem(str(path), lineno, f"phones of {word!r}: {e.what}",
                                    "use IPA symbols, space-separated (e.g. `t͡ʃ a`)"))
        key = (word, tuple(units))
        if key in seen:
            problems.append(Problem(str(path), lineno, f"duplicate of line {seen[key]}", "delete one of them"))
        seen.setdefault(key, lineno)
    return problems


def check_language_folder(folder: Path) -> list[Problem]:
    """lang.toml fields, folder naming, backends available, lexicon lines, test sentences transcribable."""
    from multikd.text.backends import backend_names, epitran_codes, espeak_voices
    from multikd.text.languages import parse_lang_toml

    toml = folder / "lang.toml"
    try:
        lang = parse_lang_toml(toml)
    except LexiconError as e:
        return [Problem(str(toml), None, e.what, e.fix or "")]
    problems: list[Problem] = []
    where = str(toml)
    expected = f"{lang.iso}-{lang.script}"
    if folder.name != expected:
        problems.append(Problem(str(folder), None, f"folder name does not match lang.toml ({lang.iso}, {lang.script})",
                                f"rename the folder to {expected}"))
    if len(lang.iso) != 3 or not lang.iso.isalpha() or not lang.iso.islower():
        problems.append(Problem(where, None, f"iso639_3 {lang.iso!r} is not a lowercase 3-letter code",
                                "use the ISO 639-3 code, e.g. `spa`"))
    if len(lang.script) != 4 or not lang.script.istitle():
        problems.append(Problem(where, None, f"script {lang.script!r} is not an ISO 15924 code", "e.g. `Latn`"))
    if not lang.licence.strip() or not lang.source.strip():
        problems.append(Problem(where, None, "source.licence and source.source must not be empty",
                                "say where the lexicon and sentences come from and their licence"))
    for name in lang.g2p_order:
        if name not in backend_names():
            problems.append(Problem(where, None, f"unknown G2P backend {name!r} in g2p.order",
                                    f"use {', '.join(backend_names())}"))
    if "espeak" in lang.g2p_order:
        voices = espeak_voices()
        if not lang.espeak_voice:
            problems.append(Problem(where, None, "espeak in g2p.order but no g2p.espeak_voice", "set it"))
        elif voices and lang.espeak_voice not in voices:
            problems.append(Problem(where, None, f"espeak-ng has no voice {lang.espeak_voice!r}",
                                    "see `espeak-ng --voices`"))
        elif not voices:
            problems.append(Problem(where, None, "espeak-ng is not installed", "run scripts/setup.sh"))
    if "epitran" in lang.g2p_order:
        if not lang.epitran_code:
            problems.append(Problem(where, None, "epitran in g2p.order but no g2p.epitran_code", "set it"))
        elif lang.epitran_code not in epitran_codes():
            problems.append(Problem(where, None, f"epitran has no map {lang.epitran_code!r}",
                                    "use a code from epitran's data/map folder"))
    if lang.num2words:
        from num2words import CONVERTER_CLASSES

        if lang.num2words not in CONVERTER_CLASSES:
            problems.append(Problem(where, None, f"num2words has no language {lang.num2words!r}",
                                    "remove g2p.num2words (digits then go to the backend)"))
    if lang.lexicon_path.exists():
        problems += check_lexicon_file(lang.lexicon_path, lang.lowercase, lang.unmarked_tone)
    if problems:  # transcribing the sentences needs a sound configuration
        return problems
    sentences = lang.sentences()
    if not sentences:
        problems.append(Problem(str(lang.sentences_path), None, "no test sentences",
                                "add sentences.txt with a few sentences that exercise the language"))
    from multikd.text.frontend import Frontend

    fe = Frontend(lang)
    lines = [ln for ln in lang.sentences_path.read_text(encoding="utf-8").splitlines()] if sentences else []
    for lineno, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            fe.phonemize(line)
        except MultikdError as e:
            problems.append(Problem(str(lang.sentences_path), lineno, f"cannot transcribe: {e}",
                                    "fix the sentence, the lexicon or the G2P order"))
    return problems


@register_checker("lexicon folder", claims=lambda p: p.is_dir() and (p / "lang.toml").is_file())
def _check(path: Path) -> list[Problem]:
    return check_language_folder(path)
