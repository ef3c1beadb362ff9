"""The aligner benchmark's pairing of our tokens with a synthesizer's own phone timings."""
from multikd.bench.align import _norm, _pair, _segments


def test_segments_fold_stress_and_tone_into_phones():
    # tokens: ˈ a ˦ # t͡ʃ o  with durations in frames of 10 ms
    segs = _segments(["ˈ", "a", "˦", "#", "t͡ʃ", "o"], [2, 5, 3, 4, 3, 6], 0.01)
    assert [p for p, _ in segs] == ["a", "tʃ", "o"]  # tie bar removed, stress/tone/boundary are not phones
    starts = [round(t, 3) for _, t in segs]
    assert starts == [0.0, 0.14, 0.17]  # "a" starts where its stress token starts; tone time stays in "a"


def test_pair_matches_equal_phones_along_a_minimum_edit_path():
    ours = [("a", 0.0), ("k", 0.10), ("o", 0.20), ("s", 0.30)]
    ref = [("a", 0.02), ("o", 0.18), ("x", 0.25), ("s", 0.33)]  # "k" missing, "x" extra
    assert sorted(_pair(ours, ref)) == [(0.0, 0.02), (0.2, 0.18), (0.3, 0.33)]
    assert _norm("ˈt͡ʃ") == "tʃ" and _pair([], ref) == []
