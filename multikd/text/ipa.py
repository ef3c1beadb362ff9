"""IPA segmentation and normalisation — the one place where backend output becomes multikd phones.

Every G2P backend (lexicon, epitran, espeak-ng) hands over *raw units*: the chunks it considers one
phone ("tʃ", "ˈe", "tsː", a lone combining tone mark from epitran…). :func:`segment_units` turns them into
one consistent token stream whichever backend produced them:

- phones: a base IPA letter (optionally tie-barred to a second one: ``t͡ʃ``) plus diacritics and length
  marks, NFC-normalised (``ã``, ``kʰ``, ``aː``, ``n̩``). Length and nasalisation stay *on* the phone
  because they are contrastive (Finnish ``a``/``aː``); the feature vector also carries them.
- stress tokens ``ˈ`` and ``ˌ`` placed before the phone they were attached to (espeak puts them on the
  vowel);
- tone tokens made of IPA tone letters (``˥ ˦ ˧ ˨ ˩`` and contours) placed *after* the phone they belong
  to; tone diacritics (``á à ā â ǎ``) are converted to tone letters so epitran's Yorùbá and an espeak
  tone language end up with the same tokens.

A unit whose base letter has no articulatory features raises :class:`~multikd.errors.IPAError`: that is
how a backend passing through characters it could not map (digits, foreign letters) is detected.
"""
from __future__ import annotations

import unicodedata

from multikd.errors import IPAError

STRESS_PRIMARY = "ˈ"
STRESS_SECONDARY = "ˌ"
STRESS_MARKS = (STRESS_PRIMARY, STRESS_SECONDARY)
TONE_LETTERS = "˥˦˧˨˩"
TIE = "\u0361"  # combining double inverted breve (t͡ʃ)

# Tone diacritics → tone letters (IPA: acute = high, grave = low, macron = mid, ...). Epitran's Yorùbá
# output keeps the orthography's tone marks, espeak's tone languages use letters; one notation wins.
TONE_DIACRITICS = {
    "\u0301": "˦",  # acute: high
    "\u0300": "˨",  # grave: low
    "\u0304": "˧",  # macron: mid
    "\u030b": "˥",  # double acute: extra high
    "\u030f": "˩",  # double grave: extra low
    "\u0302": "˦˨",  # circumflex: falling
    "\u030c": "˨˦",  # caron: rising
}

# Characters that backends or hand-written lexicons use for the same thing (one spelling wins).
_CHAR_MAP = {
    "g": "ɡ",  # ASCII g → IPA script g (U+0261); panphon only knows the latter
    "ʧ": "t͡ʃ", "ʤ": "d͡ʒ", "ʦ": "t͡s", "ʣ": "d͡z", "ʨ": "t͡ɕ", "ʥ": "d͡ʑ",  # ligatures
    "\u035c": TIE,  # tie below → tie above
    ":": "ː", "'": STRESS_PRIMARY, "ˈ": STRESS_PRIMARY,
    "ᵻ": "ɨ",  # espeak's non-IPA near-close central vowel
    "ɚ": "ə˞", "ɝ": "ɜ˞",  # rhotic vowels as vowel + rhoticity hook
    "ɫ": "lˠ",  # velarised l
    "ʼ": "ʼ",
}
# A unit that is only a modifier letter (espeak: "ʲ" before a vowel in Telugu) is a glide.
_LONE_MODIFIERS = {"ʲ": "j", "ʰ": "h", "ʷ": "w", "ˠ": "ɣ", "ʱ": "ɦ"}
# Modifier letters (category Lm/Sk) that attach to the preceding base rather than starting a phone.
_ATTACHING = set("ːˑʰʱʲʷˠˤ˞ⁿˡʼ˭")
# Stops and fricatives/affricate releases that espeak writes untied inside one unit ("tʃ", "ts", "pf").
_STOPS = set("ptkcqbdɡɟɢʈɖ")
_RELEASES = set("szʃʒɕʑʂʐfvθðxçʝ")


def _is_combining(ch: str) -> bool:
    return unicodedata.combining(ch) != 0 or unicodedata.category(ch) == "Mn"


def normalize_chars(s: str) -> str:
    """Canonical character spelling of an IPA string (NFD, ligatures split, ASCII look-alikes fixed)."""
    s = unicodedata.normalize("NFD", s)
    return "".join(_CHAR_MAP.get(ch, ch) for ch in s)


def _split_bases(s: str) -> list[str]:
    """Split a stress/tone-free NFD string into segments: base (+ tie + base) + diacritics."""
    segs: list[str] = []
    joining = False
    for ch in s:
        if ch == TIE:
            if not segs:
                raise IPAError(f"tie bar with nothing before it in {s!r}")
            segs[-1] += ch
            joining = True
        elif _is_combining(ch) or ch in _ATTACHING:
            if not segs:
                raise IPAError(f"diacritic {ch!r} (U+{ord(ch):04X}) with no phone before it in {s!r}")
            segs[-1] += ch
        elif joining:
            segs[-1] += ch
            joining = False
        else:
            segs.append(ch)
    if joining:
        raise IPAError(f"tie bar at the end of {s!r}")
    return segs


def _tie_affricate(segs: list[str]) -> list[str]:
    """Join an untied stop + fricative that a backend gave as ONE unit ("tʃ" → "t͡ʃ", "tsː" → "t͡sː")."""
    if len(segs) == 2 and segs[0] in _STOPS and segs[1] and segs[1][0] in _RELEASES:
        return [segs[0] + TIE + segs[1]]
    return segs


def segment_units(units: list[str], *, unmarked_tone: str | None = None) -> list[str]:
    """Turn a backend's raw units for ONE word into multikd tokens (phones, stress, tone).

    Args:
        units: raw chunks as the backend produced them, e.g. ``["p", "ˈe", "r", "o"]`` or epitran's
            ``["ɛ", "̀", "k", "ɔ", "́"]``.
        unmarked_tone: a tone letter given to syllabic phones that carry no tone mark (Yorùbá leaves mid
            tone unwritten); ``None`` for languages without lexical tone.

    Returns:
        tokens, e.g. ``["p", "ˈ", "e", "r", "o"]`` or ``["ɛ", "˨", "k", "ɔ", "˦"]``.

    Raises:
        IPAError: a unit contains a character that is not IPA (e.g. a digit a backend passed through).
    """
    from multikd.text.features import is_known_phone, is_syllabic

    tokens: list[str] = []
    last_phone_idx: int | None = None  # index in tokens of the phone a following tone attaches to
    for raw in units:
        u = normalize_chars(raw).strip()
        if not u:
            continue
        if u in _LONE_MODIFIERS:
            u = _LONE_MODIFIERS[u]
        stress = [c for c in u if c in STRESS_MARKS]
        tones = "".join(c for c in u if c in TONE_LETTERS)
        tone_marks = "".join(TONE_DIACRITICS[c] for c in u if c in TONE_DIACRITICS)
        body = "".join(c for c in u if c not in STRESS_MARKS and c not in TONE_LETTERS
                       and c not in TONE_DIACRITICS)
        if stress:
            tokens.append(STRESS_SECONDARY if STRESS_SECONDARY in stress and STRESS_PRIMARY not in stress
                          else STRESS_PRIMARY)
        if body and all(_is_combining(c) or c in _ATTACHING for c in body):
            # A lone diacritic unit (epitran emits tone/nasal marks separately): attach to the last phone.
            if last_phone_idx is None:
                raise IPAError(f"diacritic {body!r} with no phone before it")
            tokens[last_phone_idx] = unicodedata.normalize("NFC", tokens[last_phone_idx] + body)
            body = ""
        if body:
            for seg in _tie_affricate(_split_bases(body)):
                phone = unicodedata.normalize("NFC", seg)
                if not is_known_phone(phone):
                    raise IPAError(f"{phone!r} (from backend unit {raw!r}) is not an IPA phone",
                                   fix="the text probably contains characters the backend cannot read")
                tokens.append(phone)
                last_phone_idx = len(tokens) - 1
        tone = tones + tone_marks
        if tone:
            if last_phone_idx is None:
                raise IPAError(f"tone {tone!r} with no phone before it in unit {raw!r}")
            tokens.append(tone)
    if unmarked_tone:
        tokens = _add_unmarked_tone(tokens, unmarked_tone, is_syllabic)
    return tokens


def _add_unmarked_tone(tokens: list[str], tone: str, is_syllabic) -> list[str]:
    out: list[str] = []
    for i, tok in enumerate(tokens):
        out.append(tok)
        if is_syllabic(tok):
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            if not (nxt and nxt[0] in TONE_LETTERS):
                out.append(tone)
    return out


def is_tone(token: str) -> bool:
    return bool(token) and all(c in TONE_LETTERS for c in token)


def is_stress(token: str) -> bool:
    return token in STRESS_MARKS
