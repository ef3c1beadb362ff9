"""`multikd check` for recipes: schema, paths and names, then the whole contribution, before any run starts.

A recipe (``recipe.yaml``, or another YAML with ``name`` and ``data`` in a recipe folder) is loaded with
the same typed loader the commands use, so every unknown key, wrong type or bad setting shows up here
with its dotted name. Then the things a run would trip over later: the data card exists, the languages
are ones the front end knows, the model preset exists, and a distillation teacher folder exists.
Outputs a run writes itself (``data.prepared``) may be missing; that is not a problem.

For recipes that train an acoustic model, the contribution is checked end to end:

- the data card: every field and the licence (the card checker's rules);
- each language's lexicon folder (the lexicon checker's rules);
- G2P coverage of ``test_sentences.txt`` next to the recipe, of ``distill.text_file``, and of a sample of
  the corpus' transcripts when the corpus is on this machine (else of a prepared folder's): every
  character or word the front end cannot read, with its count and the lines or utterances it comes from;
- phones the distillation teacher never saw (its ``symbols.json``), with their nearest teacher phones.

Problems fail the check. What is only worth knowing (a hub corpus that cannot be read from here, phones
the student will learn from their features) is logged as a report, one line per item.
"""
from __future__ import annotations

import json
import logging
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from multikd.checks import Problem, register_checker
from multikd.errors import MultikdError

log = logging.getLogger(__name__)

CORPUS_SAMPLE = 200  # transcripts per language read from the corpus: enough to meet its alphabet, and fast
SHOWN = 5  # lines or utterance ids listed per unreadable character


def _is_recipe(path: Path) -> bool:
    if path.is_dir():
        return (path / "recipe.yaml").is_file()
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return path.name == "recipe.yaml"  # a broken recipe is still a recipe: report the error
    return isinstance(data, dict) and "name" in data and "data" in data


def check_recipe(path: Path) -> list[Problem]:
    from multikd.models.config import PRESETS
    from multikd.recipe import load_recipe
    from multikd.text.languages import get_language

    path = Path(path)
    if path.is_dir():
        return [p for f in sorted(path.glob("*.y*ml")) if _is_recipe(f) for p in check_recipe(f)]
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if isinstance(raw, dict) and "distill" in raw:  # each command's loader knows its sections
            from multikd.distill.recipe import load_distill_recipe

            recipe = load_distill_recipe(path)
        elif isinstance(raw, dict) and "vocoder" in raw:
            from multikd.vocoder.train import load_vocoder_recipe

            recipe = load_vocoder_recipe(path)
        else:
            recipe = load_recipe(path)
    except (MultikdError, yaml.YAMLError) as e:
        what = getattr(e, "what", str(e))
        return [Problem(getattr(e, "where", None) or where, None, what, getattr(e, "fix", "") or "")]
    problems: list[Problem] = []
    card = recipe.resolve(recipe.data.card)
    if not (card.is_file() or (card / "README.md").is_file()):
        problems.append(Problem(where, None, f"data.card {recipe.data.card!r} not found ({card})",
                                "fix the path (relative to the recipe); for the demo corpus render it first: "
                                "multikd corpus demo --out out/demo/corpus"))
    for lang in recipe.data.languages:
        try:
            get_language(lang)
        except MultikdError as e:
            problems.append(Problem(where, None, f"data.languages: {e.what}", e.fix or ""))
    model = getattr(recipe, "model", None)  # vocoder recipes have no acoustic model section
    if model is not None and model.preset not in PRESETS:
        problems.append(Problem(where, None, f"model.preset {model.preset!r} is unknown",
                                f"use one of {', '.join(PRESETS)}"))
    distill = getattr(recipe, "distill", None)
    if distill is not None:
        teacher = recipe.resolve(distill.teacher)
        if not (teacher / "config.json").is_file():
            problems.append(Problem(where, None, f"distill.teacher {distill.teacher!r} is not a model folder ({teacher})",
                                    "point it at an exported model (e.g. ../../pretrained/demo-teacher)"))
    if model is not None:  # an acoustic model reads text: check what it will read
        report = _Report(where)
        problems += _contribution(recipe, path, report, schema_ok=not problems)
        report.emit()
    return problems


register_checker("recipe", claims=_is_recipe)(check_recipe)


# ---------------------------------------------------------------- the contribution, item by item

class _Report:
    """One line per checked item, logged as one block after the recipe is checked."""

    def __init__(self, recipe: str):
        self.recipe, self.lines = recipe, []

    def item(self, name: str, text: str, problems: int = 0) -> None:
        status = f"{problems} problem(s) (listed below)" if problems else "ok"
        self.lines.append(f"  {name:<16} {text}: {status}" if text else f"  {name:<16} {status}")

    def note(self, text: str) -> None:
        self.lines.append(f"  {'note':<16} {text}")

    def emit(self) -> None:
        log.info("%s:\n%s", self.recipe, "\n".join(self.lines))


def _contribution(recipe, path: Path, report: _Report, schema_ok: bool) -> list[Problem]:
    from multikd.data.cards import load_card, validate_card
    from multikd.errors import DataCardError

    report.item("recipe", f"{getattr(recipe, 'distill', None) and 'distillation' or 'training'} recipe",
                0 if schema_ok else 1)
    problems: list[Problem] = []
    card_path = recipe.resolve(recipe.data.card)
    card_path = card_path / "README.md" if card_path.is_dir() else card_path
    card = None
    if card_path.is_file():
        card_problems = validate_card(card_path)
        report.item("data card", _show(card_path), len(card_problems))
        problems += card_problems
        cards_log = logging.getLogger("multikd.data.cards")
        level = cards_log.level
        cards_log.setLevel(logging.ERROR)  # its warnings are the documentation problems listed just above
        try:
            card = load_card(card_path)
        except DataCardError:
            pass  # its blocking problem is among card_problems
        finally:
            cards_log.setLevel(level)
    languages = list(recipe.data.languages) or (card.languages if card else [])
    if card is not None:
        missing = [x for x in recipe.data.languages if x not in card.languages]
        if missing:
            problems.append(Problem(str(path), None, f"data.languages {missing} are not in the card's "
                                    f"multikd.languages {card.languages}", "fix data.languages or the card"))
        if not card.has_licence and not recipe.data.allow_unlicensed:
            report.note(f"the card names no licence ({card.license!r}): `prepare` refuses the corpus unless "
                        "--allow-unlicensed is given (only if you have the right to use the recordings)")
    folders = {}
    for lang in languages:
        folder, lex_problems = _lexicon(lang, path)
        report.item(f"lexicon {lang}", _show(folder) if folder else "no lexicon folder", len(lex_problems))
        problems += lex_problems
        if folder and not lex_problems:
            folders[lang] = folder
    phones: Counter = Counter()
    if len(languages) == 1 and languages[0] in folders:
        lang, folder = languages[0], folders[languages[0]]
        problems += _test_sentences(path.parent / "test_sentences.txt", lang, folder, report, phones)
        text_file = getattr(getattr(recipe, "distill", None), "text_file", None)
        if text_file:
            problems += _text_file(recipe.resolve(text_file), lang, folder, report, phones)
    if card is not None and folders:
        problems += _corpus_text(card, recipe, folders, report, phones)
    distill = getattr(recipe, "distill", None)
    if distill is not None and phones:
        _teacher_phones(recipe.resolve(distill.teacher), phones, report)
    return problems


def _show(path: Path) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


_LEXICON_CHECKS: dict[tuple, list[Problem]] = {}


def _lexicon(lang: str, recipe: Path) -> tuple[Path | None, list[Problem]]:
    """The language's lexicon folder and its problems (checked once per process while its files are unchanged)."""
    from multikd.text.languages import get_language
    from multikd.text.lexicon import check_language_folder

    try:
        folder = get_language(lang).folder
    except MultikdError as e:
        return None, [Problem(str(recipe), None, f"no front end for language {lang!r}: {e.what}",
                              f"scaffold one: multikd new-language {lang}")]
    key = (folder, tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())))
    if key not in _LEXICON_CHECKS:
        _LEXICON_CHECKS[key] = check_language_folder(folder)
    return folder, _LEXICON_CHECKS[key]


# ---------------------------------------------------------------- G2P coverage

@dataclass
class Coverage:
    """What the front end made of some texts. ``places`` are line numbers (int) or utterance ids (str)."""

    texts: int = 0
    unreadable: dict[str, tuple[str, list]] = field(default_factory=dict)  # character → (why, places)
    words: dict[str, tuple[str, list]] = field(default_factory=dict)  # word no backend transcribes → (why, places)
    other: list[tuple[object, str]] = field(default_factory=list)  # (place, error) of empty texts and the like
    phones: Counter = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        places = {p for _, ps in (*self.unreadable.values(), *self.words.values()) for p in ps}
        return len(places | {p for p, _ in self.other})


def g2p_coverage(items: list[tuple[object, str]], lang_folder: Path) -> Coverage:
    """Run the language's front end over ``(place, text)`` items; collect what it cannot read, and the phones."""
    from multikd.errors import UnsupportedCharacterError
    from multikd.text import get_frontend
    from multikd.text.languages import parse_lang_toml
    from multikd.text.normalize import normalize

    fe = get_frontend(parse_lang_toml(lang_folder / "lang.toml"))
    cov, readable = Coverage(texts=len(items)), []
    for place, text in items:
        try:  # characters first: a text can have both, and the characters are the root cause
            normalize(text, fe.lang)
            readable.append((place, text))
        except UnsupportedCharacterError as e:
            for _, char, why in e.problems:
                cov.unreadable.setdefault(char, (why, []))[1].append(place)
        except MultikdError as e:
            cov.other.append((place, e.what))
    results = fe.phonemize_batch([t for _, t in readable], errors="collect")
    for (place, _), res in zip(readable, results):
        if isinstance(res, UnsupportedCharacterError):
            for _, word, why in res.problems:
                cov.words.setdefault(word, (why, []))[1].append(place)
        elif isinstance(res, MultikdError):
            cov.other.append((place, res.what))
        else:
            cov.phones.update(res.phones)
    return cov


def _places(places: list) -> str:
    kind = "line" if isinstance(places[0], int) else "utterance"
    more = f" and {len(places) - SHOWN} more" if len(places) > SHOWN else ""
    shown = ", ".join(str(p) for p in places[:SHOWN]) + more
    return f"{kind}{'s' if len(places) > 1 else ''} {shown}"


def _coverage_problems(cov: Coverage, file: str, lang: str, lexicon: Path,
                       fatal=lambda char: True) -> tuple[list[Problem], list[str]]:
    """Problems (and notes, for what ``fatal`` spares) of one coverage result."""
    problems, notes = [], []
    for char, (why, places) in sorted(cov.unreadable.items(), key=lambda kv: -len(kv[1][1])):
        line = places[0] if isinstance(places[0], int) else None
        what = why if len(char) == 1 else f"{char!r}: {why}"  # a character describes itself; a number does not
        text = f"the {lang} front end cannot read {what}: {len(places)}× in {_places(places)}"
        if fatal(char):
            problems.append(Problem(file, line, text, "remove or spell it out, or add the script/letters to "
                                    f"{lexicon / 'lang.toml'}"))
        else:
            notes.append(f"{file}: {text}; `prepare` rejects those utterances (reason unknown_characters)")
    for word, (why, places) in sorted(cov.words.items(), key=lambda kv: -len(kv[1][1])):
        line = places[0] if isinstance(places[0], int) else None
        problems.append(Problem(file, line, f"no G2P backend of {lang} transcribes the word {word!r} ({why}): "
                                f"{len(places)}× in {_places(places)}",
                                f"add it to {lexicon / 'lexicon.tsv'}, or a backend to g2p.order"))
    for place, what in cov.other:
        problems.append(Problem(file, place if isinstance(place, int) else None,
                                f"{what}" + ("" if isinstance(place, int) else f" (utterance {place})"),
                                "fix or remove the text"))
    return problems, notes


def _lines(path: Path) -> list[tuple[int, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(i, ln.strip()) for i, ln in enumerate(lines, 1) if ln.strip() and not ln.lstrip().startswith("#")]


def _test_sentences(path: Path, lang: str, folder: Path, report: _Report, phones: Counter) -> list[Problem]:
    if not path.is_file():
        report.note(f"no {path.name} next to the recipe (sentences to listen to; `multikd new-language` writes one)")
        return []
    items = _lines(path)
    if not items:
        report.item("test sentences", str(path), 1)
        return [Problem(str(path), None, "no test sentences", "write 5-20 sentences, one per line")]
    cov = g2p_coverage(items, folder)
    problems, _ = _coverage_problems(cov, str(path), lang, folder)
    report.item("test sentences", f"{_show(path)}: {cov.texts} sentences, {cov.failed} unreadable", len(problems))
    phones.update(cov.phones)
    return problems


def _text_file(path: Path, lang: str, folder: Path, report: _Report, phones: Counter) -> list[Problem]:
    if not path.is_file():  # often written by an earlier command (e.g. `multikd corpus sentences`)
        report.note(f"distill.text_file {_show(path)} does not exist yet; distill needs it")
        return []
    cov = g2p_coverage(_lines(path), folder)
    problems, _ = _coverage_problems(cov, str(path), lang, folder)
    report.item("text_file", f"{_show(path)}: {cov.texts} sentences, {cov.failed} unreadable", len(problems))
    phones.update(cov.phones)
    return problems


def _corpus_text(card, recipe, folders: dict[str, Path], report: _Report, phones: Counter) -> list[Problem]:
    """G2P coverage of a sample of the corpus' transcripts (or a prepared folder's), per language."""
    rows, origin, problems = _corpus_rows(card, recipe, report)
    if rows is None:
        if problems:
            report.item("corpus text", origin or str(card.path), len(problems))
        return problems
    for lang, folder in folders.items():
        mine = [(uid, text) for uid, text, lg in rows if lg == lang and text.strip()]
        step = max(1, len(mine) // CORPUS_SAMPLE)
        sample = mine[::step][:CORPUS_SAMPLE]
        if not sample:
            report.note(f"{origin}: no {lang} transcripts in the selected split")
            continue
        cov = g2p_coverage(sample, folder)
        # Letters the front end cannot read are a gap in its coverage of the orthography; other characters
        # (symbols, stray punctuation) are noise that `prepare` rejects utterance by utterance.
        found_problems, notes = _coverage_problems(cov, str(card.path), lang, folder, fatal=_is_letter)
        report.item(f"corpus text {lang}", f"{origin}: {len(sample)} of {len(mine)} transcripts sampled, "
                    f"{cov.failed} unreadable", len(found_problems))
        for n in notes:
            report.note(n)
        problems += found_problems
        phones.update(cov.phones)
    return problems


def _is_letter(char: str) -> bool:
    return len(char) == 1 and unicodedata.category(char)[0] in "LM"


_CORPUS_ROWS: dict[tuple, list[tuple[str, str, str]]] = {}


def _corpus_rows(card, recipe, report: _Report) -> tuple[list[tuple[str, str, str]] | None, str, list[Problem]]:
    """(id, text, language) rows of the corpus on this machine, else of a prepared folder, else None (noted);
    the place they come from; and the problems of a corpus that should be here but cannot be read."""
    from multikd.data.sources import _local_path, load_source
    from multikd.errors import CorpusError

    reason = None
    if card.source.format == "hf":
        reason = f"the corpus is the Hugging Face hub dataset {card.source.id!r}; its transcripts are not read here"
    else:
        try:
            local = _local_path(card, card.path.parent, recipe.data.split)
            if not (local.exists() or (local.parent.is_dir() and any(local.parent.glob(local.name)))):
                if not card.obtain:  # nothing says it must be fetched first: the path is wrong
                    return None, "", [Problem(card.where("multikd.source.path"), None,
                                              f"the corpus is not at source.path ({local})",
                                              "fix source.path (relative to the card), or say how to get the "
                                              "data under multikd.obtain")]
                reason = f"the corpus is not on this machine ({local})"
        except CorpusError as e:  # an unset $VARIABLE in source.path: data the user fetches and points to
            reason = f"the corpus is not on this machine ({e.what})"
    if reason is None:
        origin = f"corpus {card.name!r} (split {recipe.data.split or '-'})"
        key = (card.path, card.path.stat().st_mtime_ns, recipe.data.split)
        if key not in _CORPUS_ROWS:  # several recipes often share one corpus (the demo's)
            try:
                ds = load_source(card, recipe.data.split)
            except CorpusError as e:
                return None, origin, [Problem(e.where or str(card.path), None,
                                              f"the corpus cannot be loaded: {e.what}", e.fix or "")]
            cols = ds.select_columns(["id", "text", "language"]).to_dict()
            _CORPUS_ROWS[key] = list(zip(cols["id"], cols["text"], cols["language"]))
        return _CORPUS_ROWS[key], origin, []
    for folder in recipe.prepared_dirs():
        meta = folder / "metadata.jsonl"
        if meta.is_file():
            rows = [json.loads(line) for line in meta.read_text(encoding="utf-8").splitlines() if line.strip()]
            report.note(f"{reason}; reading the prepared folder {_show(folder)} instead")
            return [(r["id"], r["text"], r["language"]) for r in rows], f"prepared {_show(folder)}", []
    report.note(f"{reason}; after `multikd prepare`, check reads the prepared folder's transcripts instead")
    return None, "", []


# ---------------------------------------------------------------- phones the teacher never saw

def _teacher_phones(teacher: Path, phones: Counter, report: _Report) -> None:
    from multikd.distill.newlang import unseen_phone_report
    from multikd.text.symbols import SPECIALS, SymbolTable

    if not (teacher / "symbols.json").is_file():
        return  # a missing teacher is already a problem of the recipe
    table = SymbolTable.load(teacher / "symbols.json")
    unseen = sorted(p for p in phones if p not in table and p not in SPECIALS)
    inventory = [p for p in phones if p not in SPECIALS]
    report.item("teacher phones", f"{len(unseen)} of {len(inventory)} phones unseen by {_show(teacher)}")
    for row in unseen_phone_report(unseen, phones, table):
        near = ", ".join(f"{n['phone']} ({n['distance']:.2f})" for n in row["nearest"])
        report.lines.append(f"  {'':<16}   {row['phone']:<5} ×{row['count']:<5} nearest teacher phones: "
                            + (near or "none of its kind: the student learns it from a random start"))
