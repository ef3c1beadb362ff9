"""`multikd bench cost`: our voices side by side and against a random-weight VITS of MMS-TTS's size."""
from __future__ import annotations

import json
import math

import pytest
import torch

import multikd.bench.cost  # noqa: F401  (registers the bench even before BENCH_MODULES lists it)
from conftest import requires
from multikd.bench.vits_reference import build_vits, mms_token_count
from multikd.cli.main import main


def test_vits_reference_speaks_the_pinned_length():
    model, params = build_vits(frames_per_token=3)
    assert 30e6 < params["total"] < 40e6 and params["inference"] < params["total"]  # MMS-TTS: 36 M
    ids = torch.randint(1, 38, (1, 11))
    with torch.no_grad():
        wav = model(input_ids=ids, attention_mask=torch.ones_like(ids)).waveform
    hop = math.prod(model.config.upsample_rates)
    assert wav.shape[-1] == 11 * 3 * hop  # every token got exactly 3 frames
    assert mms_token_count("Hola.") == 11


@requires("espeak-ng")
def test_bench_cost_prints_ratios_against_vits(tmp_path, capsys):
    out = tmp_path / "cost.json"
    rc = main(["-q", "bench", "cost", "--preset", "tiny", "--preset", "student", "--lang", "spa",
               "--text", "Hola, buenos días.", "--runs", "1", "--json", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "VITS (MMS-TTS size, random)" in printed
    assert "tiny preset (random) vs student preset (random)" in printed
    assert "ours (student preset (random)) vs VITS" in printed
    assert "goal (>= 10x faster than VITS end to end), student preset (random):" in printed
    res = json.loads(out.read_text())
    tiny, student = res["models"]
    assert tiny["parameters"] < student["parameters"] and student["size_mb"] > tiny["size_mb"]
    for r in res["models"]:
        assert 0 < r["rtf_acoustic"] < r["rtf_end_to_end"] and r["rtf_vocoder"] > 0
    vits = res["vits"]
    assert vits["tokens"] == mms_token_count("Hola, buenos días.") and vits["rtf"] > 0
    # VITS was made to speak as long as our first model did (within one frame per token).
    assert vits["audio_seconds"] == pytest.approx(tiny["audio_seconds"], rel=0.5)


def test_bench_cost_needs_something_to_measure(capsys):
    assert main(["-q", "bench", "cost", "--no-vits"]) == 2
    assert "--preset" in capsys.readouterr().err
