"""`multikd check` on recipes: schema errors by dotted key, missing card, unknown language/preset/teacher; and
the contribution a recipe makes: card, lexicon, G2P coverage of its texts, phones new to the teacher."""
import csv
import logging
import re
import shutil

import numpy as np
import soundfile as sf
import yaml

from multikd.cli.main import main
from multikd.distill.recipe import load_distill_recipe
from multikd.recipe import load_recipe
from test_train import SECTIONS


def _recipe(folder, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipe.yaml").write_text(body, encoding="utf-8")
    return folder


def test_broken_recipes_report_what_and_where(tmp_path, capsys):
    bad = _recipe(tmp_path / "bad", "name: x\ndata: {card: nowhere.md, languages: [klingon]}\n"
                                    "model: {preset: huge}\n")
    typo = _recipe(tmp_path / "typo", "name: x\ndata: {card: c.md}\ntrian: {lr: 1}\n")
    teacher = _recipe(tmp_path / "teacher", "name: x\ndata: {card: c.md}\ndistill: {teacher: no/such/model}\n")
    assert main(["check", str(bad), str(typo), str(teacher)]) == 1
    out = capsys.readouterr().out
    assert "data.card 'nowhere.md' not found" in out
    assert "data.languages: unknown language 'klingon'" in out
    assert "model.preset 'huge' is unknown" in out
    assert "unknown key(s) trian" in out
    assert "distill.teacher 'no/such/model' is not a model folder" in out


# -- the contribution: card, lexicon, G2P coverage, phones new to the teacher --------------------------------
def _card(path, source, languages=("swa",), columns=None):
    """A card that passes every card rule, so only what a test plants is reported."""
    header = {"pretty_name": "test corpus", "license": "cc0-1.0", "language": list(languages),
              "task_categories": ["text-to-speech"], "size_categories": ["n<1K"],
              "multikd": {"languages": list(languages), "source": source,
                          "columns": columns or {"audio": "audio", "text": "text"},
                          "recording_conditions": "none", "consent": "none", "personal_data": "none"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{yaml.safe_dump(header, allow_unicode=True)}---\n{SECTIONS}", encoding="utf-8")
    return path


def test_repo_recipes_pass_with_a_stand_in_demo_corpus(repo, tmp_path, capsys, caplog):
    # The demo recipes point at out/demo/corpus, which exists only after rendering: copy them next to a
    # stand-in card (a hub source, which check notes and does not read) so only the recipes are under test.
    shutil.copytree(repo / "recipes", tmp_path / "recipes")
    shutil.copytree(repo / "data_cards", tmp_path / "data_cards")
    demo = ["cat", "ces", "deu", "eng", "fin", "hin", "ita", "mar", "rus", "spa", "swa"]
    _card(tmp_path / "out/demo/corpus/README.md", {"format": "hf", "id": "multikd/stand-in"}, demo,
          {"audio": "audio", "text": "text", "language": "language"})
    (tmp_path / "pretrained").symlink_to(repo / "pretrained")
    caplog.set_level(logging.INFO, logger="multikd.recipe_check")
    assert main(["check", str(tmp_path / "recipes")]) == 0, capsys.readouterr().out
    # The templates for real corpora: their data cannot be read here, which is a note, not a failure.
    assert "the corpus is the Hugging Face hub dataset 'google/fleurs'; its transcripts are not read here" in caplog.text
    assert "the corpus is not on this machine (card 'common_voice_ca'" in caplog.text
    assert "the card names no licence ('unknown')" in caplog.text


def _swahili_recipe(root, repo, card, distill=True):
    body = {"name": "swa-test", "data": {"card": str(card), "languages": ["swa"], "prepared": ["prepared"]},
            "model": {"preset": "student"}}
    if distill:
        body["distill"] = {"teacher": str(repo / "pretrained/demo-teacher")}
    folder = root / "recipes/swa-test"
    folder.mkdir(parents=True)
    (folder / "recipe.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")
    load = load_distill_recipe if distill else load_recipe  # the loaders the commands use accept it
    load(folder / "recipe.yaml")
    return folder


def test_test_sentences_unreadable_characters_with_lines_and_unseen_phones_with_nearest(repo, tmp_path, capsys,
                                                                                         caplog):
    card = _card(tmp_path / "data_cards/swa_hub.md", {"format": "hf", "id": "someone/swahili"})
    folder = _swahili_recipe(tmp_path, repo, card)
    sentences = folder / "test_sentences.txt"
    sentences.write_text("# Swahili test sentences\nHabari ya asubuhi?\nBei ni shilingi mia € tu.\n"
                         "Babu anasoma kitabu.\nTunaenda sokoni € kesho.\n", encoding="utf-8")
    caplog.set_level(logging.INFO, logger="multikd.recipe_check")
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr().out
    assert (f"{sentences}:3: the swa front end cannot read '€' (U+20AC EURO SIGN) cannot be spoken: "
            "2× in lines 3, 5") in out
    assert "checked 1 item(s): 1 problem(s)" in out
    report = caplog.text
    assert "test sentences   recipes/swa-test/test_sentences.txt: 4 sentences, 2 unreadable: 1 problem(s)" in \
        report.replace(str(tmp_path) + "/", "")
    # Epitran reads a word-initial b as the implosive ɓ, which no teacher language has.
    assert re.search(r"ɓ\s+×\d+\s+nearest teacher phones: b \(2\.00\)", report), report
    assert "the corpus is the Hugging Face hub dataset 'someone/swahili'; its transcripts are not read here" in report


def test_corpus_sample_letters_are_problems_other_symbols_notes(repo, tmp_path, capsys, caplog):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = [("a.wav", "Habari ya asubuhi."), ("b.wav", "Bei imepanda kwa asilimia 5 %."),
            ("c.wav", "Jina lake ni Жанна.")]
    with open(corpus / "metadata.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file_name", "text"])
        for name, text in rows:
            sf.write(corpus / name, np.zeros(1600), 16000)
            w.writerow([name, text])
    card = _card(tmp_path / "data_cards/swa_local.md", {"format": "audiofolder", "path": "../corpus"})
    folder = _swahili_recipe(tmp_path, repo, card, distill=False)
    (folder / "test_sentences.txt").write_text("Habari ya asubuhi?\n", encoding="utf-8")
    caplog.set_level(logging.INFO, logger="multikd.recipe_check")
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr().out
    # Letters of another script are a gap in the front end's coverage of the orthography: a problem each.
    assert "'Ж' (U+0416 CYRILLIC CAPITAL LETTER ZHE) is not in the Latn script of swa: 1× in utterance c" in out
    assert "checked 1 item(s): 3 problem(s)" in out  # Ж, а, н
    # A stray symbol is noise that prepare rejects utterance by utterance: a note.
    assert "'%' (U+0025 PERCENT SIGN) cannot be spoken: 1× in utterance b" in caplog.text
    assert "3 of 3 transcripts sampled, 2 unreadable: 3 problem(s)" in caplog.text


def test_a_local_corpus_that_is_not_where_its_card_says_is_a_problem(repo, tmp_path, capsys):
    card = _card(tmp_path / "data_cards/swa_local.md", {"format": "audiofolder", "path": "../no-such-folder"})
    folder = _swahili_recipe(tmp_path, repo, card, distill=False)
    (folder / "test_sentences.txt").write_text("Habari ya asubuhi?\n", encoding="utf-8")
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr().out
    assert f"{card}:" in out and "the corpus is not at source.path" in out and "no-such-folder" in out
