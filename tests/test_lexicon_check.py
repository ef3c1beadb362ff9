import shutil

import pytest

from multikd.checks import check_path
from multikd.cli.main import main
from multikd.errors import LexiconError
from multikd.text.frontend import Frontend
from multikd.text.languages import LanguageRegistry
from multikd.text.lexicon import read_lexicon


def test_repo_lexicons_pass(repo, capsys):
    assert main(["check", str(repo / "lexicons")]) == 0
    out = capsys.readouterr().out
    assert "checked 14 item(s): ok" in out


@pytest.fixture
def broken(tmp_path, repo):
    d = tmp_path / "spa-Latn"
    shutil.copytree(repo / "lexicons/spa-Latn", d)
    (d / "lexicon.tsv").write_text("# comment\nperro\tp ˈe r o\ngato k a t o\nCasa\tk a s a\nbad\tp 1 x\n"
                                   "perro\tp ˈe r o\n", encoding="utf-8")
    return d


def test_broken_lexicon_reports_file_and_line(broken, capsys):
    assert main(["check", str(broken)]) == 1
    out = capsys.readouterr().out
    lex = str(broken / "lexicon.tsv")
    assert f"{lex}:3: no TAB" in out
    assert f"{lex}:4: word 'Casa' has capitals" in out
    assert f"{lex}:5: phones of 'bad'" in out
    assert f"{lex}:6: duplicate of line 2" in out


def test_read_lexicon_strict(broken):
    with pytest.raises(LexiconError, match=r"lexicon.tsv:3"):
        read_lexicon(broken / "lexicon.tsv")


def test_folder_name_and_backend_checks(tmp_path, repo):
    d = tmp_path / "spa-Cyrl"
    shutil.copytree(repo / "lexicons/spa-Latn", d)
    toml = d / "lang.toml"
    toml.write_text(toml.read_text().replace('"espeak", "epitran"', '"espeak", "nosuch"')
                    .replace('espeak_voice = "es"', 'espeak_voice = "xx-nonexistent"'))
    msgs = [str(p) for p in check_path(d)[1]]
    assert any("rename the folder to spa-Latn" in m for m in msgs)
    assert any("unknown G2P backend 'nosuch'" in m for m in msgs)
    assert any("no voice 'xx-nonexistent'" in m for m in msgs)


def test_lexicon_entry_overrides_backend(tmp_path, repo):
    d = tmp_path / "spa-Latn"
    shutil.copytree(repo / "lexicons/spa-Latn", d)
    (d / "lexicon.tsv").write_text("perro\tɡ u a ˈu\n", encoding="utf-8")
    fe = Frontend(LanguageRegistry([tmp_path]).resolve("spa"))
    res = fe.phonemize("el perro")
    assert res.words[1].phones == ["ɡ", "u", "a", "ˈ", "u"] and res.words[1].backend == "lexicon"
    assert res.words[0].backend == "espeak"
