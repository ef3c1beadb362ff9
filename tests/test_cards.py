"""Data cards: every shipped card validates; broken cards give file:line problems; the licence gate."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from multikd.checks import check_path
from multikd.data.cards import DataCard, load_card, require_licence, validate_card
from multikd.errors import CorpusError, DataCardError

ROOT = Path(__file__).resolve().parents[1]
CARDS = sorted((ROOT / "data_cards").glob("*.md"))
BROKEN = Path(__file__).parent / "fixtures" / "cards" / "broken.md"

GOOD = """---
pretty_name: Tiny
language: [ca]
license: {license}
task_categories: [text-to-speech]
size_categories: [n<1K]
multikd:
  languages: [cat]
  source: {{format: audiofolder, path: "."}}
  columns: {{audio: audio, text: text}}
  recording_conditions: a quiet room
  consent: the speaker agreed in writing
  personal_data: one voice
---
{body}"""
SECTIONS = "".join(f"\n## {s}\ntext\n" for s in ("Summary", "Languages", "Fields", "Splits", "Source", "Limitations"))


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def _write(tmp_path: Path, text: str, name: str = "tiny.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_there_are_cards_for_the_real_corpora():
    names = {p.stem for p in CARDS}
    assert {"fleurs_ca", "common_voice_ca", "cmu_wilderness_ceb"} <= names
    assert names & {"cml_tts_pl", "mls_pl"}


@pytest.mark.parametrize("path", CARDS, ids=lambda p: p.stem)
def test_every_card_validates(path):
    assert [str(p) for p in validate_card(path)] == []
    card = load_card(path, strict=True)
    assert card.languages and card.source.format and card.columns.audio and card.columns.text


def test_real_card_facts():
    fleurs = load_card(ROOT / "data_cards" / "fleurs_ca.md")
    assert (fleurs.source.format, fleurs.source.id, fleurs.license) == ("hf", "google/fleurs", "cc-by-4.0")
    cv = load_card(ROOT / "data_cards" / "common_voice_ca.md")
    assert cv.license == "cc0-1.0" and cv.source.format != "hf" and "Data Collective" in cv.obtain
    cmu = load_card(ROOT / "data_cards" / "cmu_wilderness_ceb.md")
    assert cmu.source.format not in ("hf", "hf_disk") and cmu.obtain and not cmu.has_licence


def test_broken_card_problems_carry_file_and_line():
    problems = validate_card(BROKEN)
    text = [str(p) for p in problems]
    licence = [p for p in problems if "license" in p.problem]
    assert licence and licence[0].line == 1, text
    fmt = [p for p in problems if "source.format" in p.problem]
    assert fmt and fmt[0].line == _line_of(BROKEN, "format: zipfile"), text
    assert "audiofolder" in fmt[0].fix  # the fix lists the formats that exist
    cols = [p for p in problems if "columns.text" in p.problem]
    assert cols and cols[0].line == _line_of(BROKEN, "columns:"), text
    assert str(fmt[0]).startswith(f"{BROKEN}:{fmt[0].line}: unknown source.format")


def test_load_card_raises_with_line_of_offending_key():
    with pytest.raises(DataCardError) as e:
        load_card(BROKEN)
    assert e.value.where == f"{BROKEN}:{_line_of(BROKEN, 'format: zipfile')}"
    assert "zipfile" in str(e.value)


def test_yaml_error_and_missing_front_matter(tmp_path):
    bad = _write(tmp_path, "---\npretty_name: x\nmultikd:\n  languages: [cat\n---\n")
    with pytest.raises(DataCardError) as e:
        load_card(bad)
    assert e.value.where.startswith(f"{bad}:") and "YAML" in str(e.value)
    plain = _write(tmp_path, "# just prose\n", "plain.md")
    assert validate_card(plain)[0].line == 1


def test_duplicate_key_and_missing_sections_do_not_block_loading(tmp_path, caplog):
    text = GOOD.format(license="mit", body="no sections").replace("license: mit", "license: mit\nlicense: mit")
    path = _write(tmp_path, text)
    problems = [str(p) for p in validate_card(path)]
    assert any("given twice" in p for p in problems)
    assert any("## Summary" in p for p in problems)
    with caplog.at_level(logging.WARNING):
        card = load_card(path)
    assert card.name == "tiny" and "## Limitations" in caplog.text
    with pytest.raises(DataCardError):
        load_card(path, strict=True)


def test_wrong_types_are_reported(tmp_path):
    text = GOOD.format(license="cc-by-4.0", body=SECTIONS).replace(
        "  languages: [cat]", "  languages: [ca]\n  sample_rate: fast\n  splits: {train: {hours: -1}}")
    problems = {p.problem.split(" ")[0]: p for p in validate_card(_write(tmp_path, text))}
    assert {"multikd.languages", "sample_rate", "hours"} <= set(problems)


@pytest.mark.parametrize("licence,ok", [("cc-by-4.0", True), ("unknown", False), ("other", False),
                                          ("TBD", False)])
def test_require_licence(tmp_path, licence, ok, caplog):
    card = load_card(_write(tmp_path, GOOD.format(license=licence, body=SECTIONS)))
    assert isinstance(card, DataCard) and card.has_licence is ok
    if ok:
        require_licence(card, allow_unlicensed=False)
        return
    with pytest.raises(CorpusError) as e:
        require_licence(card, allow_unlicensed=False)
    msg = str(e.value)
    assert "no licence" in msg and "refused" in msg and "--allow-unlicensed" in msg
    assert e.value.where == f"{card.path}:{_line_of(card.path, 'license:')}"
    with caplog.at_level(logging.WARNING):
        require_licence(card, allow_unlicensed=True)
    assert "allow-unlicensed" in caplog.text


def test_other_licence_with_a_name_counts(tmp_path):
    text = GOOD.format(license="other", body=SECTIONS).replace("license: other", "license: other\nlicense_name: ACME-1")
    card = load_card(_write(tmp_path, text), strict=True)
    assert card.has_licence


def test_checker_claims_cards(tmp_path):
    folder = tmp_path / "data_cards"
    folder.mkdir()
    _write(folder, GOOD.format(license="cc0-1.0", body=SECTIONS))
    _write(folder, BROKEN.read_text(), "broken.md")
    ran, problems = check_path(folder)
    assert ran == ["data card"] and {Path(p.file).name for p in problems} == {"broken.md"}
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    readme = _write(corpus, GOOD.format(license="cc0-1.0", body=SECTIONS), "README.md")
    assert check_path(readme) == (["data card"], [])
    other = _write(tmp_path, "---\ntitle: a blog post\n---\ntext\n", "post.md")
    assert check_path(other)[0] == []
