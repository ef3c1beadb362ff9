import pytest

from multikd.errors import LexiconError, UnknownLanguageError
from multikd.text.languages import LanguageRegistry, get_language, parse_lang_toml

SUPPORTED = ["eng", "spa", "deu", "ita", "ces", "fin", "rus", "hin", "mar", "tel", "cat", "swa", "yor"]


@pytest.mark.parametrize("key,iso", [("es", "spa"), ("es-MX", "spa"), ("en_US", "eng"), ("EN-us", "eng"),
                                     ("spa", "spa"), ("yo", "yor"), ("sw-KE", "swa"), ("ca", "cat")])
def test_aliases_resolve_to_iso639_3(key, iso):
    assert get_language(key).iso == iso


def test_every_supported_language_is_defined():
    for iso in SUPPORTED:
        lang = get_language(iso)
        assert lang.folder.name == f"{iso}-{lang.script}"
        assert lang.sentences(), iso


def test_unknown_language_names_close_matches_and_how_to_add():
    with pytest.raises(UnknownLanguageError) as e:
        get_language("spanish")
    msg = str(e.value)
    assert "spa" in msg and "lang.toml" in msg
    with pytest.raises(UnknownLanguageError):
        get_language("xx-YY")


def test_bad_toml_names_file_and_line(tmp_path):
    d = tmp_path / "abc-Latn"
    d.mkdir()
    (d / "lang.toml").write_text('[language]\niso639_3 = "abc"\nname = \n')
    with pytest.raises(LexiconError) as e:
        parse_lang_toml(d / "lang.toml")
    assert "lang.toml" in str(e.value) and "line 3" in str(e.value)


def test_missing_required_key(tmp_path):
    d = tmp_path / "abc-Latn"
    d.mkdir()
    (d / "lang.toml").write_text('[language]\niso639_3 = "abc"\nname = "A"\nscript = "Latn"\n[g2p]\n')
    with pytest.raises(LexiconError, match="g2p.order"):
        parse_lang_toml(d / "lang.toml")


def test_user_folder_overrides_repo(tmp_path, repo):
    d = tmp_path / "spa-Latn"
    d.mkdir()
    (d / "lang.toml").write_text((repo / "lexicons/spa-Latn/lang.toml").read_text().replace('"Spanish"', '"Mine"'))
    reg = LanguageRegistry([tmp_path, repo / "lexicons"])
    assert reg.resolve("es").name == "Mine"
    assert reg.resolve("cat").iso == "cat"
