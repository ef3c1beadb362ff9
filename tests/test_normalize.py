import pytest

from multikd.errors import EmptyTextError, UnsupportedCharacterError
from multikd.text.languages import get_language
from multikd.text.normalize import boundary_sequence, normalize


def words(text, lang="eng"):
    return [t.text for t in normalize(text, get_language(lang))[1] if t.kind == "word"]


def seq(text, lang="eng"):
    return [k if k != "word" else t.text for k, t in boundary_sequence(normalize(text, get_language(lang))[1])]


def test_punctuation_becomes_boundary_tokens():
    assert seq("Hello, world. How are you?") == ["hello", ",", "world", ".", "how", "#", "are", "#", "you", "?"]
    assert seq("¿Qué tal?", "spa") == ["qué", "#", "tal", "?"]  # leading ¿ separates nothing
    assert seq("wait... what?!") == ["wait", ".", "what", "?"]  # strongest punctuation wins
    assert seq("El perro, ¿dónde está?", "spa") == ["el", "#", "perro", ",", "dónde", "#", "está", "?"]


def test_quotes_brackets_hyphens_separate_words_and_inner_apostrophes_stay():
    assert words('"well-known" (fact)') == ["well", "known", "fact"]
    assert words("L'home", "cat") == ["l'home"]
    assert words("Ng’ombe", "swa") == ["ng'ombe"]
    assert words("Col·lecció", "cat") == ["col·lecció"]


def test_numbers_spelled_out_per_language():
    assert words("3 cats") == ["three", "cats"]
    assert words("2,5", "spa") == ["dos", "punto", "cinco"]  # decimal comma in Spanish
    assert words("1,000 people") == ["one", "thousand", "people"]


def test_digits_left_to_backend_when_num2words_lacks_language():
    assert words("5", "swa") == ["5"]


def test_nfc_and_lowercase():
    assert words("Cafe\u0301") == ["café"]


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "...", "¡!"])
def test_empty_text_is_a_typed_error(text):
    with pytest.raises(EmptyTextError):
        normalize(text, get_language("eng"))


def test_unsupported_characters_reported_with_positions():
    with pytest.raises(UnsupportedCharacterError) as e:
        normalize("hi 🐶 there\x07", get_language("eng"))
    positions = [p for p, _, _ in e.value.problems]
    assert positions == [3, 10]
    assert "U+1F436" in str(e.value)


def test_wrong_script_reported():
    with pytest.raises(UnsupportedCharacterError) as e:
        normalize("नमस्ते hello", get_language("hin"))
    assert e.value.problems[0][0] == 7 and "Deva" in str(e.value)


def test_zero_width_joiner_kept_in_indic_words():
    assert words("क्\u200dष", "hin") == ["क्\u200dष"]
