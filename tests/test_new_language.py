"""`multikd new-language`: scaffolded files load with the loaders that use them, refusals, unknown codes,
local folders, and one contribution driven end to end (folder of wavs → check → prepare → distill → evaluate)."""
from __future__ import annotations

import csv
import logging
import subprocess

import numpy as np
import pytest
import soundfile as sf

from conftest import requires
from multikd.cli.main import main
from multikd.data.cards import load_card, validate_card
from multikd.distill.recipe import load_distill_recipe
from multikd.errors import CorpusError, UnknownLanguageError
from multikd.scaffold import identify_language, local_corpus
from multikd.text import languages
from multikd.text.languages import parse_lang_toml

HUB = ["--hf-dataset", "google/fleurs", "--config", "id_id", "--text-column", "raw_transcription",
       "--speaker-column", "speaker_id"]
# Indonesian, written for multikd (CC0-1.0): espeak-ng reads it, epitran has ind-Latn, num2words has id.
IND = ["Selamat pagi, apa kabar?", "Saya suka makan nasi goreng.", "Buku itu ada di atas meja.",
       "Kami pergi ke pasar kemarin.", "Terima kasih banyak atas bantuan Anda.", "Cuaca hari ini sangat cerah.",
       "Dia sedang membaca koran di kereta.", "Anak-anak bermain bola di lapangan."]


@pytest.fixture
def root(tmp_path, repo, monkeypatch):
    """A repository-like folder with the demo teacher, whose lexicons/ the front end searches first."""
    (tmp_path / "pretrained").symlink_to(repo / "pretrained")
    monkeypatch.setenv("MULTIKD_LEXICONS", str(tmp_path / "lexicons"))
    monkeypatch.setattr(languages, "_default", None)  # the registry reads MULTIKD_LEXICONS when first built
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _tone_folder(folder, texts, split_every=None):
    """<name>.wav + <name>.txt pairs of short tones (enough for the scaffold, which only measures them)."""
    folder.mkdir(parents=True)
    t = np.arange(int(0.5 * 16000)) / 16000
    for i, text in enumerate(texts):
        sf.write(folder / f"utt{i}.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 16000)
        (folder / f"utt{i}.txt").write_text(text + "\n", encoding="utf-8")
    return folder


def test_hub_dataset_scaffold_loads_with_the_real_loaders(root, capsys):
    assert main(["new-language", "id", *HUB, "--root", str(root)]) == 0
    out = capsys.readouterr().out
    for f in ("recipes/ind/recipe.yaml", "recipes/ind/README.md", "recipes/ind/test_sentences.txt",
              "data_cards/ind_fleurs.md", "lexicons/ind-Latn/lang.toml", "lexicons/ind-Latn/sentences.txt"):
        assert (root / f).is_file(), f
        assert f in out
    card = load_card(root / "data_cards/ind_fleurs.md")
    assert (card.source.format, card.source.id, card.source.config, card.source.split) == ("hf", "google/fleurs",
                                                                                          "id_id", "train")
    assert (card.columns.audio, card.columns.text, card.columns.speaker) == ("audio", "raw_transcription", "speaker_id")
    assert card.languages == ["ind"] and not card.has_licence
    # The only thing `check` holds against the card is the licence nobody has filled in yet.
    assert [p.problem for p in validate_card(card.path)] == ["`license` must be a licence id, got ''"]
    recipe = load_distill_recipe(root / "recipes/ind/recipe.yaml")
    assert recipe.data.languages == ["ind"] and recipe.model.preset == "small"
    assert (recipe.resolve(recipe.distill.teacher) / "config.json").is_file()
    assert recipe.resolve(recipe.data.card) == root / "recipes/ind/../../data_cards/ind_fleurs.md"
    lang = parse_lang_toml(root / "lexicons/ind-Latn/lang.toml")
    assert (lang.iso, lang.script, lang.g2p_order) == ("ind", "Latn", ("espeak", "epitran"))
    assert (lang.espeak_voice, lang.epitran_code, lang.num2words, lang.aliases) == ("id", "ind-Latn", "id", ("id",))
    assert lang.licence == ""  # for the contributor to fill in; `check` reports it
    readme = (root / "recipes/ind/README.md").read_text()
    for cmd in ("multikd check recipes/ind", "--split test --out out/ind/prepared/test", "--mode scratch",
                "multikd bench distill --recipe recipes/ind/recipe.yaml", "multikd evaluate", "| date | commit |"):
        assert cmd in readme and cmd in out + readme
    assert "multikd prepare data_cards/ind_fleurs.md --split train --out out/ind/prepared/train" in out


def test_licence_option_fills_the_card(root):
    assert main(["new-language", "ind", *HUB, "--license", "cc-by-4.0", "--root", str(root)]) == 0
    assert validate_card(root / "data_cards/ind_fleurs.md") == []
    assert load_card(root / "data_cards/ind_fleurs.md").has_licence


def test_refuses_to_overwrite_unless_forced_and_never_a_lexicon(root, capsys):
    assert main(["new-language", "id", *HUB, "--root", str(root)]) == 0
    toml = root / "lexicons/ind-Latn/lang.toml"
    toml.write_text(toml.read_text().replace('licence = ""', 'licence = "CC0-1.0"'))
    capsys.readouterr()
    assert main(["new-language", "id", *HUB, "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "recipes/ind/recipe.yaml already exists" in err and "--force" in err
    assert main(["new-language", "id", *HUB, "--license", "cc0-1.0", "--force", "--root", str(root)]) == 0
    assert "language exists: using its front end" in capsys.readouterr().out
    assert 'licence = "CC0-1.0"' in toml.read_text()  # the contributor's lexicon was reused, not rewritten
    assert load_card(root / "data_cards/ind_fleurs.md").has_licence


def test_unknown_code_names_close_matches(root, capsys):
    assert main(["new-language", "catt", *HUB, "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "unknown language code 'catt'" in err and "cat (Catalan)" in err
    with pytest.raises(UnknownLanguageError):
        identify_language("xx-not-a-language", root)
    assert identify_language("sw-KE", root).iso3 == "swa"  # an alias multikd already knows
    assert identify_language("wo", root).iso3 == "wol"  # ISO 639-1 through the ISO 639-3 table


def test_without_debian_iso_codes_a_small_table_still_resolves(root, monkeypatch):
    import multikd.scaffold as scaffold

    monkeypatch.setattr(scaffold, "ISO_CODES_JSON", root / "no-iso-codes")
    assert identify_language("wo", root) == scaffold.LanguageId("wol", "wo", "Wolof")
    with pytest.raises(UnknownLanguageError, match="built-in table") as e:
        identify_language("wolf", root)
    assert "wol (Wolof)" in e.value.fix


def test_language_no_backend_knows_gets_an_empty_lexicon_and_a_warning(root, capsys):
    assert main(["new-language", "wo", *HUB, "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "a lexicon is required" in out
    lang = parse_lang_toml(root / "lexicons/wol-Latn/lang.toml")
    assert lang.g2p_order == ("lexicon",) and lang.espeak_voice is None and lang.epitran_code is None
    assert (root / "lexicons/wol-Latn/lexicon.tsv").is_file()


def test_folder_layouts_a_loader_cannot_read_are_typed_errors_naming_the_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError) as e:
        local_corpus(empty)
    assert e.value.where == str(empty) and "metadata.csv" in e.value.what and "LJSpeech" in e.value.what
    pairs = _tone_folder(tmp_path / "pairs", IND[:3])
    with pytest.raises(CorpusError) as e:
        local_corpus(pairs)
    assert "3 <name>.wav + <name>.txt pairs" in e.value.fix and "--write-metadata" in e.value.fix
    assert not (pairs / "metadata.csv").exists()


def test_folder_of_pairs_becomes_an_audiofolder_card_with_a_test_split(root, capsys):
    rec = _tone_folder(root / "rec", IND)
    assert main(["new-language", "id", "--from-folder", str(rec), "--write-metadata", "--root", str(root)]) == 0
    rows = list(csv.DictReader(open(rec / "metadata.csv", encoding="utf-8")))
    assert [r["split"] for r in rows].count("test") == 1 and rows[0]["transcription"] == IND[0]
    card = load_card(root / "data_cards/ind_local.md")
    assert (card.source.format, card.source.path, card.columns.text) == ("audiofolder", "../rec", "transcription")
    assert card.splits["train"].utterances == 7 and card.splits["test"].utterances == 1
    assert card.sample_rate == 16000
    # Placeholders come from the training transcripts, never from the held-out ones.
    sentences = [ln for ln in (root / "recipes/ind/test_sentences.txt").read_text().splitlines()
                 if not ln.startswith("#")]
    assert sentences == IND[:5]


@requires("espeak-ng")
def test_local_folder_end_to_end(root, capsys, caplog, monkeypatch):
    """A folder of recordings + transcripts → new-language → check → prepare → distill → evaluate (~40 s)."""
    rec = root / "recordings"
    rec.mkdir()
    for i, text in enumerate(IND):
        subprocess.run(["espeak-ng", "-v", "id", "-w", str(rec / f"utt{i}.wav"), text], check=True)
        (rec / f"utt{i}.txt").write_text(text, encoding="utf-8")
    assert main(["new-language", "id", "--from-folder", "recordings", "--write-metadata", "--license", "cc0-1.0"]) == 0
    capsys.readouterr()
    languages._default = None  # each command runs in a new process for a user: the registry sees the new folder

    # `check` fails until the contributor fills in what only they know: here, the lexicon's licence.
    caplog.set_level(logging.INFO, logger="multikd.recipe_check")
    assert main(["check", "recipes/ind"]) == 1
    out = capsys.readouterr().out
    assert "lexicons/ind-Latn/lang.toml: source.licence and source.source must not be empty" in out
    assert "checked 1 item(s): 1 problem(s)" in out
    toml = root / "lexicons/ind-Latn/lang.toml"
    toml.write_text(toml.read_text().replace('licence = ""', 'licence = "CC0-1.0"'))
    assert main(["check", "recipes/ind"]) == 0
    report = caplog.text
    assert "corpus text ind  corpus 'ind_local' (split train): 7 of 7 transcripts sampled, 0 unreadable: ok" in report
    assert "teacher phones" in report

    quiet = ["--no-progress"]
    assert main(["prepare", "data_cards/ind_local.md", "--split", "train", "--out", "out/ind/prepared/train", *quiet]) == 0
    assert main(["prepare", "data_cards/ind_local.md", "--split", "test", "--out", "out/ind/prepared/test", *quiet]) == 0
    tiny = ["--set", "model.preset=tiny", "--set", "model.overrides={n_bins: 64}", "--set", "train.max_steps=2",
            "--set", "train.max_minutes=null", "--set", "train.batch_frames=null", "--set", "train.batch_size=4",
            "--set", "train.warmup_steps=1", "--set", "train.save_every=2", "--set", "distill.init_batches=1"]
    assert main(["distill", "recipes/ind/recipe.yaml", "--mode", "finetune", "--minutes", "30", *tiny, *quiet]) == 0
    model = root / "runs/ind-local/finetune-30min/model"
    assert (model / "config.json").is_file()
    assert main(["evaluate", "--systems", f"finetune-30min={model}", "--lang", "ind", "--test", "out/ind/prepared/test",
                 "-o", "out/ind/eval", "--per-language", "1", "--no-cost", *quiet]) == 0
    for f in ("index.html", "summary.md", "metrics.json", "metrics.csv"):
        assert (root / "out/ind/eval" / f).is_file(), f
