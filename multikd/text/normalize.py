"""Text normalisation: raw text → words and boundary tokens, with every character accounted for.

Steps: NFC; numbers spelled out with num2words where the language has it (otherwise digits are left for
the backend, which either reads them — espeak does — or fails loudly); lowercasing; splitting into words
(letters, marks, inner apostrophes) and punctuation, which becomes boundary tokens the model can use:
``,`` (pause), ``.`` (sentence end), ``?`` and ``!``. Quotes and brackets only separate words.

A character that is none of these (emoji, symbols, control characters, letters of a script the language
does not use) is an error naming its position — never silently dropped. ``IGNORABLE`` lists the few
invisible format characters that are removed because they carry no sound.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from multikd.errors import EmptyTextError, UnsupportedCharacterError
from multikd.text.languages import Language

# Punctuation → boundary token. Unicode knowledge, not language knowledge, so it lives in code.
PUNCT_TOKEN = {
    **dict.fromkeys(",;:–—―、，；：،؛", ","),
    **dict.fromkeys(".…。।॥።", "."),
    **dict.fromkeys("?؟", "?"),
    **dict.fromkeys("!", "!"),
}
_TOKEN_RANK = {",": 1, ".": 2, "!": 3, "?": 4}  # consecutive punctuation keeps the strongest
# Opening marks (¿ ¡) only separate: the closing ? ! carries the intonation, and a "¿" after a comma
# must not outrank that comma's pause.
SEPARATORS = set("\"«»“”„‟‹›‘‚()[]{}-‐‑‒/¿¡")
# Kept inside a word (between letters): apostrophes (l'home, don't, ng'ombe) and the Catalan middle dot
# of "l·l" (col·lecció), which tells espeak-ng to read two l's instead of ʎ.
APOSTROPHES = {"'": "'", "’": "'", "ʼ": "ʼ", "`": "'", "·": "·"}
# Invisible format characters with no sound: soft hyphen, BOM/zero-width no-break space, variation
# selectors. ZWJ/ZWNJ are NOT here: they change the spelling of Indic words and are kept in words.
IGNORABLE = {"\u00ad", "\ufeff", "\ufe0e", "\ufe0f", "\u200b"}
WORD_JOINERS = {"\u200c", "\u200d"}
# ISO 15924 code → first word of the Unicode character names of that script.
SCRIPT_NAMES = {
    "Latn": "LATIN", "Deva": "DEVANAGARI", "Cyrl": "CYRILLIC", "Telu": "TELUGU", "Grek": "GREEK",
    "Arab": "ARABIC", "Ethi": "ETHIOPIC", "Beng": "BENGALI", "Taml": "TAMIL", "Hebr": "HEBREW",
    "Hang": "HANGUL", "Thai": "THAI", "Geor": "GEORGIAN", "Armn": "ARMENIAN", "Knda": "KANNADA",
    "Mlym": "MALAYALAM", "Gujr": "GUJARATI", "Guru": "GURMUKHI", "Orya": "ORIYA", "Sinh": "SINHALA",
    "Khmr": "KHMER", "Mymr": "MYANMAR", "Tibt": "TIBETAN", "Hani": "CJK",
}
MAX_NUMBER_DIGITS = 15  # beyond this, digits are read one by one (num2words tables end)
MAX_CHARS = 100_000  # longer inputs are almost certainly a mistake (a whole book in one call)


@dataclass(frozen=True)
class Token:
    """A word or a boundary token. ``start`` is the character offset in the NFC text."""

    kind: str  # "word" | "punct"
    text: str
    start: int


def _char_script(ch: str) -> str | None:
    try:
        first = unicodedata.name(ch).split()[0]
    except ValueError:
        return None
    return first


def _describe(ch: str) -> str:
    try:
        return f"{ch!r} (U+{ord(ch):04X} {unicodedata.name(ch)})"
    except ValueError:
        return f"{ch!r} (U+{ord(ch):04X}, unassigned)"


def _spell_number(match: str, lang: Language) -> str:
    """Digits (any script) with optional grouping/decimal separators → words via num2words."""
    from num2words import num2words

    dec = lang.decimal_separator
    digits = "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in match)
    if sum(c.isdigit() for c in digits) > MAX_NUMBER_DIGITS:  # a phone or card number: read digit by digit
        return " ".join(_spell_number(c, lang) for c in digits if c.isdigit())
    group = "," if dec == "." else "."
    parts = digits.split(dec)
    whole = parts[0]
    if re.fullmatch(r"\d{1,3}(" + re.escape(group) + r"\d{3})+", whole):
        whole = whole.replace(group, "")
    if len(parts) == 2 and parts[1].isdigit() and whole.isdigit():
        value = float(f"{whole}.{parts[1]}")
    elif whole.isdigit() and len(parts) == 1:
        value = int(whole)
    else:  # "1.2.3": read the digit groups one by one
        return " , ".join(_spell_number(p, lang) for p in re.split(r"[.,]", digits) if p)
    try:
        return num2words(value, lang=lang.num2words)
    except Exception as e:  # num2words raises KeyError/IndexError/... on inputs its tables lack
        raise UnsupportedCharacterError(
            f"cannot spell out the number {match!r} in {lang.iso}: {e}",
            problems=[(0, match, "number")], fix="write the number out in words")


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def normalize(text: str, lang: Language) -> tuple[str, list[Token]]:
    """Normalise ``text`` for ``lang`` and split it into word and punctuation tokens.

    Returns:
        (the NFC text that positions refer to, tokens).

    Raises:
        EmptyTextError: nothing to say.
        UnsupportedCharacterError: characters no backend can handle; ``.problems`` has every one.
    """
    if not isinstance(text, str):
        raise EmptyTextError(f"text must be a string, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise UnsupportedCharacterError(f"text is {len(text)} characters long (limit {MAX_CHARS})",
                                        problems=[(MAX_CHARS, "", "too long")],
                                        fix="split it into sentences or paragraphs")
    nfc = unicodedata.normalize("NFC", text)
    if not nfc.strip():
        raise EmptyTextError("text is empty or only whitespace", fix="give at least one word")
    allowed = {SCRIPT_NAMES.get(s, s.upper()) for s in (lang.script, *lang.extra_scripts)}
    tokens: list[Token] = []
    problems: list[tuple[int, str, str]] = []
    word, word_start = [], 0

    def flush():
        nonlocal word
        if word:
            tokens.append(Token("word", "".join(word), word_start))
            word = []

    i, n = 0, len(nfc)
    while i < n:
        ch = nfc[i]
        cat = unicodedata.category(ch)
        if ch.isdigit() or (cat == "Nd"):
            m = _NUMBER.match(nfc, i) if ch.isascii() else re.compile(r"\d+").match(nfc, i)
            num = m.group(0) if m else ch
            flush()
            if lang.num2words:
                spelled = _spell_number(num, lang)
                _, sub = normalize(spelled, lang) if spelled.strip() else ("", [])
                tokens.extend(Token(t.kind, t.text, i) for t in sub)
            else:  # leave digits to the backend; a backend that cannot read them fails loudly
                tokens.append(Token("word", num, i))
            i += len(num)
            continue
        if cat[0] in "LM" or ch in WORD_JOINERS:
            script = _char_script(ch)
            neutral = cat[0] == "M" and script in ("COMBINING", None) or cat == "Lm" or ch in WORD_JOINERS
            if not neutral and script not in allowed:
                problems.append((i, ch, f"{_describe(ch)} is not in the {lang.script} script of {lang.iso}"))
            if not word:
                word_start = i
            word.append(ch.lower() if lang.lowercase else ch)
        elif ch in APOSTROPHES and word and i + 1 < n and unicodedata.category(nfc[i + 1])[0] == "L":
            word.append(APOSTROPHES[ch])  # inner apostrophe or middle dot
        elif ch.isspace() or ch in SEPARATORS or ch in APOSTROPHES:
            flush()
        elif ch in PUNCT_TOKEN:
            flush()
            tokens.append(Token("punct", PUNCT_TOKEN[ch], i))
        elif ch in IGNORABLE:
            pass
        else:
            problems.append((i, ch, f"{_describe(ch)} cannot be spoken"))
        i += 1
    flush()
    if problems:
        shown = "; ".join(f"position {p}: {why}" for p, _, why in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise UnsupportedCharacterError(
            f"{len(problems)} unsupported character(s) in {lang.iso} text: {shown}{more}",
            problems=problems, fix="remove or spell out these characters")
    if not any(t.kind == "word" for t in tokens):
        raise EmptyTextError("text has no words (only punctuation)", fix="give at least one word")
    return nfc, tokens


def boundary_sequence(tokens: list[Token]) -> list[tuple[str, Token | None]]:
    """Interleave words with boundary tokens: ``[("word", tok), ("#", None), ("word", tok), (".", tok)]``.

    Between two words there is exactly one boundary: the strongest punctuation between them, or ``#``.
    Punctuation before the first word is dropped (it has nothing to separate: "¿Qué?").
    """
    out: list[tuple[str, Token | None]] = []
    pending: Token | None = None
    seen_word = False
    for t in tokens:
        if t.kind == "punct":
            if seen_word and (pending is None or _TOKEN_RANK[t.text] > _TOKEN_RANK[pending.text]):
                pending = t
            continue
        if seen_word:
            out.append((pending.text, pending) if pending else ("#", None))
        out.append(("word", t))
        pending = None
        seen_word = True
    if pending is not None:
        out.append((pending.text, pending))
    return out
