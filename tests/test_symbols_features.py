import json

import numpy as np
import pytest

from multikd.errors import SymbolTableError
from multikd.text import features
from multikd.text.symbols import BOS, EOS, PAD, SPECIALS, WORD_BOUNDARY, SymbolTable


def test_specials_have_fixed_ids():
    t = SymbolTable(["b", "a"])
    assert t.symbols[:8] == list(SPECIALS)
    assert (t.id("<pad>"), t.id("<bos>"), t.id("<eos>"), t.id("#")) == (PAD, BOS, EOS, WORD_BOUNDARY)
    assert t.phones == ["a", "b"]  # sorted for determinism


def test_merge_appends_without_renumbering():
    t = SymbolTable(["p", "a", "ˈ"])
    before = {s: t.id(s) for s in t.symbols}
    added = t.merge(["ɓ", "a", "˦", "ɗ"])
    assert added == ["ɓ", "ɗ", "˦"]
    assert all(t.id(s) == i for s, i in before.items())
    assert t.id("ɓ") == len(before)


def test_save_load_round_trip(tmp_path):
    t = SymbolTable(["t͡ʃ", "aː", "˥˩", "ˈ"])
    t.merge(["z"])
    t.save(tmp_path / "s.json")
    u = SymbolTable.load(tmp_path / "s.json")
    assert u == t and u.symbols[-1] == "z"
    assert u.encode(["t͡ʃ", "aː"]) == [BOS, t.id("t͡ʃ"), t.id("aː"), EOS]
    assert u.decode(u.encode(["z"], add_bos_eos=False)) == ["z"]


@pytest.mark.parametrize("content,match", [
    ("{not json", "not valid JSON"),
    (json.dumps({"format": "other"}), "not a multikd symbol table"),
    (json.dumps({"format": "multikd-symbols", "version": 1, "symbols": ["a", "b"]}), "first 8 symbols"),
    (json.dumps({"format": "multikd-symbols", "version": 1, "symbols": list(SPECIALS) + ["a", "a"]}), "duplicate"),
    (json.dumps({"format": "multikd-symbols", "version": 1, "symbols": list(SPECIALS) + ["1"]}), "not a phone"),
])
def test_bad_table_files_are_typed_errors(tmp_path, content, match):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(SymbolTableError, match=match):
        SymbolTable.load(p)


def test_unknown_token_error_suggests_nearest():
    t = SymbolTable(["b", "p", "a"])
    with pytest.raises(SymbolTableError) as e:
        t.id("ɓ")
    assert "nearest known: b" in str(e.value)


def test_feature_vectors():
    m = SymbolTable(["a", "aː", "ˈ", "˦"]).feature_matrix()
    assert m.shape == (12, features.N_FEATURES)
    assert len(set(map(bytes, m))) == 12  # every symbol distinguishable
    a, along = features.token_features("a"), features.token_features("aː")
    assert np.count_nonzero(a != along) == 1  # only the length feature differs
    assert features.token_features("˥˩")[features.FEATURE_NAMES.index("tone_start")] == 1.0
    assert features.token_features("˥˩")[features.FEATURE_NAMES.index("tone_end")] == -1.0


def test_unseen_phone_gets_meaningful_neighbours():
    assert features.nearest("ɓ", ["b", "a", "s", "˦"])[0][0] == "b"  # implosive ≈ voiced bilabial stop
    assert features.nearest("ʈ", ["t", "m", "i"])[0][0] == "t"  # retroflex ≈ alveolar stop
    assert features.nearest("˦", ["˥", "a", "ˈ"]) == [("˥", pytest.approx(0.5 ** 0.5))]  # tones only match tones
    # a phone panphon lacks a diacritic for still gets its base's features
    assert features.is_known_phone("r̝̊") and not features.is_known_phone("1")
