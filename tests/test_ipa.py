import pytest

from multikd.errors import IPAError
from multikd.text.ipa import normalize_chars, segment_units


def test_espeak_units_become_phones_with_stress_tokens():
    assert segment_units(["p", "ˈe", "r", "o"]) == ["p", "ˈ", "e", "r", "o"]
    assert segment_units(["ˌaː", "p"]) == ["ˌ", "aː", "p"]


def test_untied_affricate_in_one_unit_is_tied_but_separate_units_are_not():
    assert segment_units(["tʃ", "ˈɜː", "tʃ"]) == ["t͡ʃ", "ˈ", "ɜː", "t͡ʃ"]
    assert segment_units(["p", "ˈi", "tsː", "a"]) == ["p", "ˈ", "i", "t͡sː", "a"]
    assert segment_units(["k", "ˈæ", "t", "s"]) == ["k", "ˈ", "æ", "t", "s"]


def test_multi_vowel_unit_is_split():
    assert segment_units(["b", "ɹ", "ˈaʊ", "n"]) == ["b", "ɹ", "ˈ", "a", "ʊ", "n"]


def test_epitran_lone_tone_marks_attach_to_previous_phone():
    # epitran yor-Latn emits the orthography's tone marks as separate units
    assert segment_units(["ɛ", "\u0300", "k", "ɔ", "\u0301"]) == ["ɛ", "˨", "k", "ɔ", "˦"]


def test_unmarked_tone_added_only_to_syllabic_phones():
    assert segment_units(["ɔ", "m", "ɔ"], unmarked_tone="˧") == ["ɔ", "˧", "m", "ɔ", "˧"]
    assert segment_units(["n", "\u0301"], unmarked_tone="˧") == ["n", "˦"]


def test_tone_letters_and_diacritics_agree():
    assert segment_units(["a˦"]) == segment_units(["a\u0301"]) == ["a", "˦"]
    assert segment_units(["ma˨˦"]) == ["m", "a", "˨˦"]


def test_character_normalisation():
    assert normalize_chars("g") == "ɡ"
    assert segment_units(["ʧ", "a"]) == ["t͡ʃ", "a"]
    assert segment_units(["t͜s"]) == ["t͡s"]
    assert segment_units(["a:"]) == ["aː"]
    assert segment_units(["ɚ"]) == ["ə˞"]


def test_nasal_length_and_syllabic_marks_stay_on_phone():
    assert segment_units(["ɛ̃ː"]) == ["ɛ̃ː"]
    assert segment_units(["ˈn̩"]) == ["ˈ", "n̩"]
    assert segment_units(["bʰ", "ˈaː"]) == ["bʰ", "ˈ", "aː"]


@pytest.mark.parametrize("bad", [["1"], ["x", "!"], ["€"], ["\u0301"]])
def test_non_ipa_raises(bad):
    with pytest.raises(IPAError):
        segment_units(bad)
