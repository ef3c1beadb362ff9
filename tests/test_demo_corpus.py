"""The offline demo corpus: engines, texts, the corpus writer and its CLI, on a few utterances."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from multikd.cli.main import main
from multikd.data.demo.engines import ENGINES, Synthesizer, register
from multikd.data.demo.engines.base import count_letters, is_pause
from multikd.data.demo.engines.espeak import _segments
from multikd.data.demo.engines.festival import read_segs
from multikd.data.demo.engines.flite import parse_psdur
from multikd.data.demo.render import build_demo_corpus, load_voices, select_voices
from multikd.data.demo.texts import MAX_WORDS, MIN_WORDS, TEXT_DIR, available_languages, load_sentences, split_sentences
from multikd.errors import CorpusError

HAS_FESTIVAL = ENGINES["festival"].available() is None and "upc_ca_ona_hts" in ENGINES["festival"]().voices()
HAS_FLITE = ENGINES["flite"].available() is None
META_KEYS = {"file_name", "id", "text", "language", "speaker", "engine", "voice", "split", "duration",
             "ref_alignment"}


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metadata.jsonl").read_text(encoding="utf-8").splitlines()]


def _check_utterance(out: Path, row: dict) -> None:
    assert META_KEYS <= row.keys()
    assert row["split"] in ("train", "test")
    assert row["file_name"] == f"audio/{row['language']}/{row['speaker']}/{row['id']}.wav"
    audio, sr = sf.read(out / row["file_name"], dtype="float32")
    assert sr == row["sample_rate"] and abs(len(audio) / sr - row["duration"]) < 1e-3
    assert np.abs(audio).max() > 0.05 and np.sqrt(np.mean(audio**2)) > 0.005  # not silent
    letters = count_letters(row["text"])
    assert 3 < letters / row["duration"] < 30  # plausible speaking rate for the text
    align = json.loads((out / row["ref_alignment"]).read_text(encoding="utf-8"))
    phones = align["phones"]
    assert align["engine"] == row["engine"]
    starts = [p["start"] for p in phones]
    assert starts == sorted(starts) and all(p["end"] > p["start"] for p in phones)
    assert all(a["end"] == pytest.approx(b["start"], abs=1e-3) for a, b in zip(phones, phones[1:]))
    assert phones[0]["start"] < 0.05  # covers the audio from its start ...
    assert phones[-1]["end"] == pytest.approx(row["duration"], abs=0.06)  # ... to its end
    assert sum(not is_pause(p["phone"]) for p in phones) > 0.5 * letters


def test_espeak_two_languages_resume_and_card(tmp_path):
    out = tmp_path / "corpus"
    rep = build_demo_corpus(out, voice_ids=["espeak-es", "espeak-sw"], max_utterances=3, progress=False)
    assert rep.rendered == 6 and rep.failed == 0
    rows = _rows(out)
    assert {r["language"] for r in rows} == {"spa", "swa"}
    assert {r["split"] for r in rows} == {"train", "test"}
    for row in rows:
        _check_utterance(out, row)
        assert row["engine"] == "espeak-ng"
    report = json.loads((out / "render_report.json").read_text())
    assert report["per_voice"]["espeak-sw"]["rendered"] == 3 and report["wall_s"] >= 0

    again = build_demo_corpus(out, voice_ids=["espeak-es", "espeak-sw"], max_utterances=3, progress=False)
    assert again.rendered == 0 and again.skipped_existing == 6
    assert len(_rows(out)) == 6  # nothing appended twice

    card = (out / "README.md").read_text(encoding="utf-8")
    front = yaml.safe_load(card.split("---")[1])
    assert front["task_categories"] == ["text-to-speech"]
    assert front["configs"][0]["data_files"] == "metadata.jsonl"
    mk = front["multikd"]
    assert mk["synthetic"] is True and mk["source"] == {"format": "audiofolder", "path": "."}
    assert mk["columns"]["audio"] == "audio" and set(mk["languages"]) == {"spa", "swa"}
    assert mk["splits"]["train"]["speakers"] == 2 and mk["splits"]["test"]["hours"] > 0
    for section in ("## Summary", "## Languages", "## Fields", "## Splits", "## Source", "## Limitations"):
        assert section in card
    assert "SYNTHETIC" in card
    # the card is a valid multikd card and the corpus loads through the ordinary audiofolder path
    from multikd.data.cards import load_card, validate_card
    from multikd.data.sources import load_source

    assert [str(p) for p in validate_card(out / "README.md")] == []
    ds = load_source(load_card(out / "README.md"))
    assert len(ds) == 6 and set(ds["language"]) == {"spa", "swa"} and "ref_alignment" in ds.column_names


def test_interrupted_run_resumes(tmp_path):
    out = tmp_path / "corpus"
    build_demo_corpus(out, voice_ids=["espeak-de"], max_utterances=3, progress=False)
    rows = _rows(out)
    (out / rows[1]["file_name"]).unlink()  # as if killed after writing metadata but before this wav
    lines = (out / "metadata.jsonl").read_text().splitlines()
    (out / "metadata.jsonl").write_text("\n".join(lines) + '\n{"id": "cut-of', encoding="utf-8")
    rep = build_demo_corpus(out, voice_ids=["espeak-de"], max_utterances=3, progress=False)
    assert rep.rendered == 1 and rep.skipped_existing == 2
    assert (out / rows[1]["file_name"]).exists()


def test_failures_are_counted_with_reasons(tmp_path):
    table = tmp_path / "voices.toml"
    table.write_text('[bad]\nengine = "espeak-ng"\nvoice = "xx-nosuch"\nlanguage = "swa"\nrole = "target"\n'
                     '[ghost]\nengine = "nosuch-engine"\nvoice = "v"\nlanguage = "spa"\nrole = "teacher"\n'
                     '[good]\nengine = "espeak-ng"\nvoice = "sw"\nlanguage = "swa"\nrole = "target"\n')
    out = tmp_path / "corpus"
    rep = build_demo_corpus(out, max_utterances=2, voices_file=table, progress=False)
    assert rep.rendered == 2 and rep.failed == 4
    reasons = {f["voice"]: f["reason"] for f in rep.failures}
    assert "no voice 'xx-nosuch'" in reasons["bad"] and "nosuch-engine" in reasons["ghost"]
    assert {r["speaker"] for r in _rows(out)} == {"good"}  # failures never reach metadata
    saved = json.loads((out / "render_report.json").read_text())
    assert len(saved["failures"]) == 4 and saved["per_voice"]["bad"]["failed"] == 2
    # the CLI exits non-zero when anything failed and says why
    assert main(["corpus", "demo", "--out", str(out), "--max-utterances", "2", "--voices-file", str(table),
                 "--no-progress"]) == 1


def test_unknown_voice_id_is_a_clear_error():
    with pytest.raises(CorpusError, match="unknown voice id"):
        select_voices(load_voices(), None, ["festival-nobody"])
    assert main(["corpus", "demo", "--out", "/nonexistent/x", "--voices", "festival-nobody"]) == 2


@pytest.mark.skipif(not HAS_FESTIVAL, reason="festival + festvox-ca-ona-hts not installed")
def test_festival_catalan_and_wrong_encoding_is_caught(tmp_path):
    out = tmp_path / "corpus"
    rep = build_demo_corpus(out, voice_ids=["festival-ona"], max_utterances=2, progress=False)
    assert rep.rendered == 2, rep.failures
    for row in _rows(out):
        _check_utterance(out, row)
        assert row["speaker"] == "festival-ona" and row["sample_rate"] == 16000
    # the same voice fed UTF-8: festival renders fluent nonsense; the canary must catch it
    ona = load_voices()["festival-ona"]
    table = tmp_path / "voices.toml"
    table.write_text(f'[ona-utf8]\nengine = "festival"\nvoice = "{ona.voice}"\nlanguage = "cat"\nrole = "target"\n'
                     f'encoding = "utf-8"\ncanary = "{ona.options["canary"]}"\n'
                     f'canary_phones = "{ona.options["canary_phones"]}"\n', encoding="utf-8")
    bad = build_demo_corpus(tmp_path / "bad", max_utterances=2, voices_file=table, progress=False)
    assert bad.rendered == 0 and bad.failed == 2
    assert "encoding 'utf-8' is probably wrong" in bad.failures[0]["reason"]


@pytest.mark.skipif(not HAS_FLITE, reason="flite not installed")
def test_flite_one_utterance(tmp_path):
    rep = build_demo_corpus(tmp_path, voice_ids=["flite-slt"], max_utterances=1, progress=False)
    assert rep.rendered == 1
    _check_utterance(tmp_path, _rows(tmp_path)[0])


def test_registry_checks_the_interface():
    with pytest.raises(TypeError):
        @register
        class Half(Synthesizer):  # noqa: F811
            name = "half-engine"

            @classmethod
            def available(cls):
                return None
    assert "half-engine" not in ENGINES
    with pytest.raises(ValueError):
        register(type("Dup", (Synthesizer,), {"name": "espeak-ng"}))


def test_timing_parsers(tmp_path):
    assert parse_psdur("pau:0.164 hh:0.255 ax:0.304") == [("pau", 0.0, 0.164), ("hh", 0.164, 0.255),
                                                           ("ax", 0.255, 0.304)]
    lab = tmp_path / "x.lab"
    lab.write_text("separator ;\nnfields 1\n#\n0.3950 100 pau\n0.4800 100 b\n0.5650 100 O1\n")
    assert read_segs(lab) == [("pau", 0.0, 0.395), ("b", 0.395, 0.48), ("O1", 0.48, 0.565)]
    # espeak phoneme events: starts in ms; zero-length events dropped; last phone ends at the audio's end
    assert _segments([("w", 0), ("a", 98), ("_", 98), ("t", 231)], 0.4) == [
        ("w", 0.0, 0.098), ("_", 0.098, 0.231), ("t", 0.231, 0.4)]


def test_texts_split_clean_and_sourced():
    langs = available_languages()
    for lang in ("eng", "ita", "ces", "fin", "rus", "hin", "spa", "deu", "cat", "mar", "swa"):
        assert lang in langs
        sents = load_sentences(lang)
        train = {s.text for s in sents if s.split == "train"}
        test = {s.text for s in sents if s.split == "test"}
        assert test and train and not (train & test)
        assert 0.08 < len(test) / len(sents) < 0.13
        assert all(MIN_WORDS <= len(s.text.split()) <= MAX_WORDS for s in sents)
        assert len({s.key for s in sents}) == len(sents)
    files = sorted(TEXT_DIR.glob("*/*.txt"))
    sources_md = (TEXT_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for f in files:
        head = f.read_text(encoding="utf-8").splitlines()[:2]
        assert head[0].startswith("# source:") and head[1].startswith("# licence:"), f
        assert f"{f.parent.name}/{f.name}" in sources_md, f
    assert sum(f.stat().st_size for f in files) < 1_000_000
    # the fixed split: adding nothing changes nothing (every 10th line of a file is test)
    assert [s.split for s in load_sentences("swa")][9] == "test"


def test_split_sentences_cuts_long_clauses():
    long = ", ".join(["uno dos tres cuatro cinco"] * 8) + ". Hola a todos."
    parts = split_sentences(long)
    assert parts[-1] == "Hola a todos."
    assert all(MIN_WORDS <= len(p.split()) <= MAX_WORDS for p in parts)
    assert split_sentences("Zwei Worte.") == []


def test_list_voices_cli(capsys):
    assert main(["corpus", "list-voices"]) == 0
    out = capsys.readouterr().out
    assert "festival-ona" in out and "espeak-sw" in out and "swa:" in out


@pytest.mark.slow
def test_every_default_voice_renders(tmp_path):
    """One utterance per default voice (≈10 s with everything installed); skips missing engines."""
    voices = select_voices(load_voices(), None, None)
    usable = [vid for vid, v in voices.items() if ENGINES[v.engine].available() is None]
    rep = build_demo_corpus(tmp_path, voice_ids=usable, max_utterances=2, progress=False)
    assert rep.failed == 0, rep.failures
    for row in _rows(tmp_path):
        _check_utterance(tmp_path, row)
    shutil.rmtree(tmp_path, ignore_errors=True)
