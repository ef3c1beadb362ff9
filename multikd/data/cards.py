"""Data cards: ``data_cards/<name>.md`` (or a corpus folder's ``README.md``) describing one corpus.

YAML front matter = a Hugging Face dataset card header (``pretty_name``, ``language``, ``license``,
``task_categories``, ``size_categories``) plus a ``multikd:`` block: how to load the corpus (``source``,
``columns``) and what it is (languages, sample rate, splits, recording conditions, consent, personal data,
synthetic or not). The prose carries the sections in :data:`REQUIRED_SECTIONS`.

*Blocking* checks cover what the loader needs (``multikd`` block, ``source``, ``columns``, languages,
numbers): :func:`load_card` raises on the first. *Documentation* checks (licence, HF keys, consent fields,
prose sections) never stop loading but are reported by :func:`validate_card` and ``multikd check``; tests
require every shipped card to pass them all. Each problem carries the line of the offending key.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from multikd.checks import Problem, register_checker
from multikd.errors import CorpusError, DataCardError

log = logging.getLogger(__name__)

REQUIRED_SECTIONS = ("Summary", "Languages", "Fields", "Splits", "Source", "Limitations")
# Values of `license` that say "no licence is known" (placeholders a contributor has not filled in
# included): training needs --allow-unlicensed.
NO_LICENCE = frozenset({"unknown", "none", "", "tbd", "todo", "fixme", "required", "?", "n/a"})
# Hugging Face licence ids accepted in `license` (a subset of the hub's list: the ones speech corpora use).
KNOWN_LICENCES = frozenset({
    "apache-2.0", "mit", "bsd-2-clause", "bsd-3-clause", "gpl-2.0", "gpl-3.0", "lgpl-3.0", "mpl-2.0",
    "cc0-1.0", "unlicense", "pddl", "odc-by", "odbl", "cdla-permissive-2.0", "cdla-sharing-1.0",
    "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nd-4.0",
    "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
    "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "openrail", "other",
}) | NO_LICENCE
MULTIKD_KEYS = ("languages", "script", "source", "columns", "sample_rate", "splits",
                "recording_conditions", "consent", "personal_data", "synthetic", "synthesis", "obtain")
SOURCE_KEYS = ("format", "id", "config", "split", "revision", "data_dir", "path", "delimiter", "audio_dir")
COLUMN_KEYS = ("audio", "text", "speaker", "language", "id", "duration")
_ISO3 = re.compile(r"^[a-z]{3}$")
_HF_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$")
_SCRIPT = re.compile(r"^[A-Z][a-z]{3}$")


@dataclass(frozen=True)
class SourceSpec:
    """Where the corpus lives; which keys a format needs is declared by its loader in sources.py."""

    format: str
    id: str | None = None          # hub dataset id (hf)
    config: str | None = None      # hub config name (hf)
    split: str | None = None       # default split when the caller gives none
    revision: str | None = None    # hub branch/tag/commit (hf)
    data_dir: str | None = None    # sub-folder of the hub repo (hf), e.g. one FLEURS language
    path: str | None = None        # local file/folder/glob; may contain {split}, ~ and $VARS
    delimiter: str | None = None   # csv field separator (default: tab for .tsv, comma otherwise)
    audio_dir: str | None = None   # csv: folder the audio paths are relative to (default: the csv's)


@dataclass(frozen=True)
class ColumnMap:
    """Corpus column names for each canonical column (``audio`` and ``text`` required)."""

    audio: str
    text: str
    speaker: str | None = None
    language: str | None = None
    id: str | None = None
    duration: str | None = None


@dataclass(frozen=True)
class SplitInfo:
    hours: float | None = None
    speakers: int | None = None
    utterances: int | None = None


@dataclass
class DataCard:
    """A parsed data card. ``lines`` maps dotted keys (``multikd.columns.text``) to 1-based lines."""

    path: Path
    name: str
    pretty_name: str | None
    license: str | None          # the raw value of `license` (None when the key is missing)
    license_name: str | None
    languages: list[str]          # ISO 639-3
    script: str | dict[str, str] | None
    source: SourceSpec
    columns: ColumnMap
    sample_rate: int | list[int] | None  # a list for corpora that mix rates
    splits: dict[str, SplitInfo]
    recording_conditions: str | None
    consent: str | None
    personal_data: str | None
    synthetic: bool = False
    synthesis: str | None = None
    obtain: str | None = None
    raw: dict = field(default_factory=dict, repr=False)
    lines: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def has_licence(self) -> bool:
        """True when the card names a licence (``other`` counts only with a ``license_name``)."""
        lic = (self.license or "").strip().lower()
        return lic not in NO_LICENCE and (lic != "other" or bool(self.license_name))

    def line_of(self, key: str) -> int:
        return _line_of(self.lines, key)

    def where(self, key: str) -> str:
        return f"{self.path}:{self.line_of(key)}"


# ---------------------------------------------------------------- parsing

@dataclass
class _Parsed:
    path: Path
    data: dict[str, Any]
    lines: dict[str, int]
    body: str
    end_line: int
    problems: list[Problem] = field(default_factory=list)   # parse-level (duplicates)

    def get(self, dotted: str, default=None):
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def problem(self, key: str, what: str, fix: str = "") -> Problem:
        return Problem(str(self.path), _line_of(self.lines, key), what, fix)


def _line_of(lines: dict[str, int], key: str) -> int:
    """Line of ``key``, else of its nearest parent, else 1 (the front matter's opening ``---``)."""
    while key:
        if key in lines:
            return lines[key]
        key = key.rpartition(".")[0]
    return 1


def _split_front_matter(text: str) -> tuple[str, int, str] | None:
    """(yaml text, line number of its last line + 1, body) or None when there is no front matter."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "\n".join(lines[1:i]), i + 1, "\n".join(lines[i + 1:])
    return None


def _index_lines(node: yaml.Node, prefix: str, lines: dict[str, int], dups: list[tuple[str, int]]) -> None:
    # yaml marks are 0-based and relative to the front matter, which starts on file line 2.
    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        key = f"{prefix}{key_node.value}"
        line = key_node.start_mark.line + 2
        if key in lines:
            dups.append((key, line))
        lines[key] = line
        _index_lines(value_node, key + ".", lines, dups)


def _parse(path: Path) -> _Parsed:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DataCardError(f"cannot read the card: {e}", where=str(path), fix="check the path and encoding")
    split = _split_front_matter(text)
    if split is None:
        raise DataCardError("no YAML front matter", where=f"{path}:1",
                            fix="start the file with a '---' line, the YAML header, then another '---'")
    yaml_text, end_line, body = split
    try:
        node = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(yaml_text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        raise DataCardError(f"malformed YAML front matter: {getattr(e, 'problem', e)}", where=f"{path}:{line}",
                            fix="fix the YAML syntax (indentation, quoting of values containing ':')")
    if not isinstance(data, dict):
        raise DataCardError("the front matter is not a mapping of keys to values", where=f"{path}:2",
                            fix="write `key: value` lines between the '---' lines")
    lines: dict[str, int] = {}
    dups: list[tuple[str, int]] = []
    _index_lines(node, "", lines, dups)
    parsed = _Parsed(path, data, lines, body, end_line + body.count("\n") + 1)
    parsed.problems = [Problem(str(path), ln, f"key `{k}` is given twice (the last one wins)",
                               "remove one of them") for k, ln in dups]
    return parsed


# ---------------------------------------------------------------- rules

_Rule = Callable[[_Parsed], Iterator[Problem]]
_BLOCKING: list[_Rule] = []
_DOCUMENTATION: list[_Rule] = []


def _rule(blocking: bool, needs_multikd: bool = True):
    """Register a check; most need the ``multikd`` block and stay silent without it (reported once)."""
    def deco(fn: _Rule) -> _Rule:
        def run(p: _Parsed):
            return iter(()) if needs_multikd and not isinstance(p.get("multikd"), dict) else fn(p)
        (_BLOCKING if blocking else _DOCUMENTATION).append(run)
        return fn
    return deco


def _is_str(v) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _str_list(v) -> list[str] | None:
    """A list of non-empty strings (a lone string counts as a list of one, as HF allows), else None."""
    if _is_str(v):
        return [v]
    return list(v) if isinstance(v, list) and v and all(_is_str(x) for x in v) else None


def _count(v, kind: type) -> bool:
    return v is None or (isinstance(v, kind) and not isinstance(v, bool) and v >= 0)


@_rule(blocking=True, needs_multikd=False)
def _multikd_block(p: _Parsed):
    if not isinstance(p.get("multikd"), dict):
        yield p.problem("multikd", "no `multikd:` block (a mapping) in the front matter",
                        "add `multikd:` with languages, source, columns, recording_conditions, consent, "
                        "personal_data (see data_cards/fleurs_ca.md)")


@_rule(blocking=True)
def _languages(p: _Parsed):
    langs = p.get("multikd.languages")
    if not (isinstance(langs, list) and langs and all(isinstance(x, str) and _ISO3.match(x) for x in langs)):
        yield p.problem("multikd.languages", f"multikd.languages must be a list of ISO 639-3 codes, got {langs!r}",
                        "write e.g. `languages: [cat]` (three lowercase letters per language)")
    script = p.get("multikd.script")
    scripts = script.values() if isinstance(script, dict) else [script]
    if script is not None and not (all(isinstance(v, str) and _SCRIPT.match(v) for v in scripts)
                                   and (not isinstance(script, dict) or set(script) <= set(langs or []))):
        yield p.problem("multikd.script", f"multikd.script must be an ISO 15924 code (e.g. Latn) or a mapping "
                        f"language → code over multikd.languages, got {script!r}", "write e.g. `script: Latn`")


@_rule(blocking=True)
def _source(p: _Parsed):
    from multikd.data.sources import formats  # late: keeps `multikd check` free of the datasets import

    src, registry = p.get("multikd.source"), formats()
    if not isinstance(src, dict):
        yield p.problem("multikd.source", "multikd.source is missing or not a mapping",
                        "add `source: {format: hf, id: <hub id>, ...}` or a local format with `path:`")
        return
    fmt = registry.get(src.get("format"))
    if fmt is None:
        yield p.problem("multikd.source.format", f"unknown source.format {src.get('format')!r}",
                        f"use one of: {', '.join(sorted(registry))}")
        return
    for key in fmt.required:
        if not _is_str(src.get(key)):
            yield p.problem(f"multikd.source.{key}", f"source.format {fmt.name} needs source.{key}", fmt.doc)
    allowed = {"format", *fmt.required, *fmt.optional}
    for key, value in src.items():
        if key not in allowed:
            yield p.problem(f"multikd.source.{key}", f"source.{key} is not used by format {fmt.name}",
                            f"remove it; format {fmt.name} reads: {', '.join(sorted(allowed))}")
        elif value is not None and not isinstance(value, str):
            yield p.problem(f"multikd.source.{key}", f"source.{key} must be a string, got {value!r}", "quote it")


@_rule(blocking=True)
def _columns(p: _Parsed):
    cols, langs = p.get("multikd.columns"), p.get("multikd.languages")
    if not isinstance(cols, dict):
        yield p.problem("multikd.columns", "multikd.columns is missing or not a mapping",
                        "add `columns: {audio: <audio column>, text: <transcript column>}`")
        return
    for key, holds in (("audio", "recording"), ("text", "transcript")):
        if not _is_str(cols.get(key)):
            yield p.problem(f"multikd.columns.{key}", f"columns.{key} is missing",
                            f"name the corpus column that holds the {holds}")
    for key, value in cols.items():
        if key not in COLUMN_KEYS:
            yield p.problem(f"multikd.columns.{key}", f"unknown column role `{key}`",
                            f"roles are: {', '.join(COLUMN_KEYS)}; other corpus columns pass through unchanged")
        elif value is not None and not _is_str(value):
            yield p.problem(f"multikd.columns.{key}", f"columns.{key} must be a column name, got {value!r}")
    if isinstance(langs, list) and len(langs) > 1 and not _is_str(cols.get("language")):
        yield p.problem("multikd.columns", f"the card lists {len(langs)} languages but no columns.language",
                        "name the column that gives each row's language, or list one language")


@_rule(blocking=True)
def _numbers(p: _Parsed):
    sr, splits = p.get("multikd.sample_rate"), p.get("multikd.splits")
    rates = sr if isinstance(sr, list) and sr else [sr]  # a list: a corpus that mixes rates (prepare resamples)
    if any(not _count(r, int) or r == 0 for r in rates):
        yield p.problem("multikd.sample_rate",
                        f"sample_rate must be a positive integer (Hz) or a list of them, got {sr!r}")
    if splits is not None and not isinstance(splits, dict):
        yield p.problem("multikd.splits", "splits must map split names to {hours, speakers}")
        return
    for name, info in (splits or {}).items():
        key = f"multikd.splits.{name}"
        if not isinstance(info, dict) or set(info) - {"hours", "speakers", "utterances"}:
            yield p.problem(key, f"split {name} must be a mapping with `hours`, `speakers` and/or `utterances`",
                            "write e.g. `train: {hours: 2.5, speakers: 1}` (null when unknown)")
        elif not _count(info.get("utterances"), int):
            yield p.problem(f"{key}.utterances",
                            f"utterances must be a non-negative integer or null, got {info['utterances']!r}")
        elif not _count(info.get("hours"), (int, float)):
            yield p.problem(f"{key}.hours", f"hours must be a non-negative number or null, got {info['hours']!r}")
        elif not _count(info.get("speakers"), int):
            yield p.problem(f"{key}.speakers",
                            f"speakers must be a non-negative integer or null, got {info['speakers']!r}")


@_rule(blocking=False, needs_multikd=False)
def _licence(p: _Parsed):
    ids = _str_list(p.get("license"))
    if ids is None:
        what = ("no `license` key" if "license" not in p.data
                else f"`license` must be a licence id, got {p.get('license')!r}")
        yield p.problem("license", what,
                        "give the Hugging Face licence id (e.g. cc-by-4.0); if nobody knows it, write "
                        "`license: unknown` and explain under ## Limitations")
        return
    for one in (x.strip().lower() for x in ids):
        if one not in KNOWN_LICENCES:
            yield p.problem("license", f"`{one}` is not a Hugging Face licence id",
                            "use an id such as cc-by-4.0, cc0-1.0, mit, or `other` with `license_name`")
        elif one == "other" and not _is_str(p.get("license_name")):
            yield p.problem("license", "license is `other` but no `license_name` says which",
                            "add `license_name:` (and `license_link:`), or write `license: unknown`")


# Keys that must hold text / a list of strings, with the fix to show when they do not.
_TEXT_KEYS = {
    "pretty_name": "add the corpus' human-readable name",
    **{f"multikd.{k}": "say what is known; write \"unknown\" (and why) rather than leaving it out"
       for k in ("recording_conditions", "consent", "personal_data")},
}
_LIST_KEYS = {
    "language": "write e.g. `language: [ca]` (the hub's ISO 639-1/639-3 codes; multikd.languages holds 639-3)",
    "task_categories": "add e.g. `task_categories: [text-to-speech]`",
    "size_categories": "add e.g. `size_categories: [1K<n<10K]`",
}


@_rule(blocking=False, needs_multikd=False)
def _documentation_keys(p: _Parsed):
    for key, fix in _TEXT_KEYS.items():
        if not _is_str(p.get(key)) and (not key.startswith("multikd.") or isinstance(p.get("multikd"), dict)):
            yield p.problem(key, f"`{key}` is missing or empty", fix)
    for key, fix in _LIST_KEYS.items():
        values = _str_list(p.get(key))
        if values is None or (key == "language" and not all(_HF_LANG.match(x) for x in values)):
            yield p.problem(key, f"`{key}` must be a list of strings, got {p.get(key)!r}", fix)


@_rule(blocking=False)
def _provenance(p: _Parsed):
    synthetic = p.get("multikd.synthetic", False)
    if not isinstance(synthetic, bool):
        yield p.problem("multikd.synthetic", f"synthetic must be true or false, got {synthetic!r}")
    elif synthetic and not _is_str(p.get("multikd.synthesis")):
        yield p.problem("multikd.synthetic", "synthetic corpus without `synthesis`",
                        "say which engine and voices rendered the audio, from which text")
    for key in ("obtain", "synthesis"):
        if p.get(f"multikd.{key}") is not None and not _is_str(p.get(f"multikd.{key}")):
            yield p.problem(f"multikd.{key}", f"multikd.{key} must be text")
    for key in p.get("multikd"):
        if key not in MULTIKD_KEYS:
            yield p.problem(f"multikd.{key}", f"unknown key multikd.{key}", f"known keys: {', '.join(MULTIKD_KEYS)}")


@_rule(blocking=False, needs_multikd=False)
def _sections(p: _Parsed):
    found = {m.group(1).strip() for m in re.finditer(r"^##\s+(.+?)\s*#*\s*$", p.body, re.MULTILINE)}
    for name in REQUIRED_SECTIONS:
        if name not in found:
            yield Problem(str(p.path), p.end_line, f"no `## {name}` section", "add it to the prose below the header")


# ---------------------------------------------------------------- public API

def validate_card(path: str | Path) -> list[Problem]:
    """Every problem of the card at ``path`` (blocking and documentation), each with its line."""
    try:
        parsed = _parse(Path(path))
    except DataCardError as e:
        file, _, line = (e.where or str(path)).rpartition(":")
        return [Problem(file or str(path), int(line) if line.isdigit() else None, e.what, e.fix or "")]
    problems = list(parsed.problems)
    for rule in _BLOCKING + _DOCUMENTATION:
        problems += list(rule(parsed))
    return sorted(problems, key=lambda q: q.line or 0)


def load_card(path: str | Path, *, strict: bool = False) -> DataCard:
    """Parse a card. Raises :class:`DataCardError` (with file:line) on the first blocking problem, or with
    ``strict=True`` on any problem; documentation problems are otherwise logged as warnings."""
    parsed = _parse(Path(path))
    for rule in _BLOCKING:
        for q in rule(parsed):
            raise DataCardError(q.problem, where=f"{q.file}:{q.line}", fix=q.fix or None)
    soft = list(parsed.problems) + [q for rule in _DOCUMENTATION for q in rule(parsed)]
    if strict and soft:
        q = soft[0]
        raise DataCardError(q.problem, where=f"{q.file}:{q.line}", fix=q.fix or None)
    for q in soft:
        log.warning("data card: %s", q)
    return _build(parsed)


def _build(p: _Parsed) -> DataCard:
    m = p.data["multikd"]
    splits = {str(k): SplitInfo(v.get("hours"), v.get("speakers"), v.get("utterances"))
              for k, v in (m.get("splits") or {}).items()}
    name = p.path.parent.name if p.path.name.lower() == "readme.md" else p.path.stem
    return DataCard(
        path=p.path.resolve(), name=name, pretty_name=p.data.get("pretty_name"),
        license=None if p.data.get("license") is None else str(
            p.data["license"][0] if isinstance(p.data["license"], list) else p.data["license"]),
        license_name=p.data.get("license_name"),
        languages=list(m["languages"]), script=m.get("script"),
        source=SourceSpec(**{k: m["source"].get(k) for k in SOURCE_KEYS}),
        columns=ColumnMap(**{k: m["columns"].get(k) for k in COLUMN_KEYS}),
        sample_rate=m.get("sample_rate"), splits=splits,
        recording_conditions=m.get("recording_conditions"), consent=m.get("consent"),
        personal_data=m.get("personal_data"), synthetic=bool(m.get("synthetic", False)),
        synthesis=m.get("synthesis"), obtain=m.get("obtain"), raw=p.data, lines=p.lines,
    )


def require_licence(card: DataCard, allow_unlicensed: bool) -> None:
    """Refuse to train on a corpus whose card names no licence, unless the user opted in."""
    if card.has_licence:
        return
    shown = "missing" if card.license is None else repr(card.license)
    if allow_unlicensed:
        log.warning("corpus %s has no licence (license: %s); training anyway because --allow-unlicensed "
                    "was given: you are responsible for the right to use these recordings", card.name, shown)
        return
    raise CorpusError(
        f"corpus '{card.name}' has no licence (license: {shown}), so training on it is refused",
        where=card.where("license"),
        fix="set `license:` in the card to the corpus' licence id if it has one, or pass --allow-unlicensed "
            "to train anyway (only if you have the right to use the recordings)")


def iter_cards(folder: str | Path) -> list[Path]:
    """Card files in a folder: every ``*.md`` with front matter (a README.md without one documents the folder)."""
    return [p for p in sorted(Path(folder).glob("*.md"))
            if p.name.lower() != "readme.md" or _front_matter(p) is not None]


def _front_matter(path: Path) -> str | None:
    """The YAML text of a file's front matter, or None (cheap: reads at most 200 kB)."""
    try:
        with open(path, encoding="utf-8") as f:
            split = _split_front_matter(f.read(200_000))
    except (OSError, UnicodeDecodeError):
        return None
    return split[0] if split else None


def _claims(path: Path) -> bool:
    if path.is_dir():
        return path.name == "data_cards"
    if path.suffix.lower() != ".md":
        return False
    head = "" if path.parent.name == "data_cards" else _front_matter(path) or ""
    return path.parent.name == "data_cards" or re.search(r"^multikd\s*:", head, re.MULTILINE) is not None


@register_checker("data card", claims=_claims)
def check_cards(path: Path) -> list[Problem]:
    """`multikd check` entry: one card, or every card of a ``data_cards/`` folder."""
    files = iter_cards(path) if Path(path).is_dir() else [Path(path)]
    return [q for f in files for q in validate_card(f)]
