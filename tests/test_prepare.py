"""`multikd prepare` on a small local Hugging Face dataset with every kind of bad input: exact accounting."""
from __future__ import annotations

import json
import subprocess

import datasets
import numpy as np
import pytest
import soundfile as sf
import yaml

from conftest import requires
from multikd.cli.main import main
from multikd.data.prepare import prepare
from multikd.data.select import select_rows
from multikd.errors import CorpusError
from multikd.recipe import DataSelection
from multikd.text.symbols import SymbolTable

SECTIONS = "".join(f"\n## {s}\ntext\n" for s in ("Summary", "Languages", "Fields", "Splits", "Source", "Limitations"))


def _speak(path, text, voice="ca"):
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), text], check=True)
    wav, sr = sf.read(path, dtype="float32")
    return wav, sr


def _card(folder, licence="cc0-1.0"):
    header = {"pretty_name": "tiny", "language": ["ca"], "task_categories": ["text-to-speech"],
              "size_categories": ["n<1K"],
              "multikd": {"languages": ["cat"], "source": {"format": "hf_disk", "path": "disk"},
                          "columns": {"audio": "audio", "text": "sentence", "speaker": "spk", "id": "uid"},
                          "recording_conditions": "espeak-ng", "consent": "none", "personal_data": "none"}}
    if licence:
        header["license"] = licence
    path = folder / "tiny.md"
    path.write_text(f"---\n{yaml.safe_dump(header, sort_keys=False)}---\n{SECTIONS}", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if subprocess.run(["which", "espeak-ng"], capture_output=True).returncode:
        pytest.skip("espeak-ng not installed (run scripts/setup.sh)")
    root = tmp_path_factory.mktemp("corpus")
    wd = root / "wav"
    wd.mkdir()
    rows = []

    def add(uid, text, wav=None, sr=22050, raw=None):
        p = wd / f"{uid}.wav"
        if raw is not None:
            p.write_bytes(raw)
        else:
            sf.write(p, wav, sr)
        rows.append({"uid": uid, "audio": str(p), "sentence": text, "spk": "anna" if len(rows) % 2 else "pau"})

    good, sr = _speak(wd / "_a.wav", "Bon dia, com estàs avui?")
    good2, _ = _speak(wd / "_b.wav", "La casa és molt gran.")
    add("good", "Bon dia, com estàs avui?", good, sr)
    import librosa
    add("wrong_rate", "La casa és molt gran.", librosa.resample(good2, orig_sr=sr, target_sr=16000), 16000)
    add("stereo", "Bon dia, com estàs avui?", np.stack([good, 0.5 * good], axis=1), sr)
    add("broken", "Bon dia.", raw=b"RIFF\x00\x00garbage" + bytes(range(200)))
    add("silent", "Bon dia.", np.zeros(sr, dtype="float32"), sr)
    add("empty", "Bon dia.", np.zeros(0, dtype="float32"), sr)
    add("clipped", "Bon dia, com estàs avui?", np.clip(good * 50, -1, 1), sr)
    add("no_text", None, good, sr)
    add("emoji", "Bon dia 🐶", good, sr)
    add("mismatch", " ".join(["paraula"] * 60), good[: sr], sr)
    ds = datasets.Dataset.from_dict({k: [r[k] for r in rows] for k in rows[0]})
    ds.cast_column("audio", datasets.Audio()).save_to_disk(str(root / "disk"))
    return root


EXPECTED_REJECTED = {"unreadable": 1, "silent": 1, "empty": 1, "clipped": 1, "missing_transcript": 1,
                     "unknown_characters": 1, "text_audio_mismatch": 1}


def test_exact_accounting_and_outputs(corpus, tmp_path, capsys):
    out = tmp_path / "prep"
    res = prepare(_card(corpus), out, DataSelection(card=""), shard_size=4, progress=False)
    assert (res.total, res.selected, res.kept) == (10, 10, 3)
    assert dict(res.rejected) == EXPECTED_REJECTED
    report = json.loads((out / "report.json").read_text())
    assert report["kept"] + report["rejected_total"] == report["total"] == 10
    rejected = (out / "rejected.tsv").read_text().splitlines()[1:]
    assert sorted(r.split("\t")[0] for r in rejected) == sorted(
        ["broken", "silent", "empty", "clipped", "no_text", "emoji", "mismatch"])
    assert all(len(r.split("\t")) == 3 and r.split("\t")[2] for r in rejected)

    ds = datasets.load_from_disk(str(out / "dataset"))
    assert sorted(ds["id"]) == ["good", "stereo", "wrong_rate"]
    row = ds[0]
    mel = np.asarray(row["mel"])
    assert mel.shape == (row["n_frames"], 80) and len(row["f0"]) == len(row["energy"]) == row["n_frames"]
    assert np.isfinite(mel).all() and mel.max() > -5  # real energy in the spectrogram
    assert sum(f > 0 for f in row["f0"]) > 0.2 * row["n_frames"]  # voiced speech
    assert row["phones"][-1] == "?" and "#" in row["phones"]
    wav, sr = sf.read(out / row["wav"])
    assert sr == 22050 and wav.ndim == 1 and abs(len(wav) / sr - row["duration"]) < 0.01
    manifest = [json.loads(x) for x in (out / "metadata.jsonl").read_text().splitlines()]
    assert len(manifest) == 3 and all((out / m["file_name"]).is_file() for m in manifest)
    table = SymbolTable.load(out / "symbols.json")
    assert all(p in table for r in ds["phones"] for p in r)
    speakers = json.loads((out / "speakers.json").read_text())
    assert sum(s["utterances"] for s in speakers.values()) == 3
    assert all(50 < s["pitch"]["mean"] < 300 for s in speakers.values())
    config = json.loads((out / "config.json").read_text())
    assert config["licence"] == "cc0-1.0" and config["audio"]["sample_rate"] == 22050

    assert main(["phones", "--prepared", str(out), "--json"]) == 0  # a corpus' inventory, no G2P needed
    inventory = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["tokens"]
    assert set(inventory) == set(table.phones) and all(n > 0 for n in inventory.values())

    again = prepare(_card(corpus), out, DataSelection(card=""), shard_size=4, progress=False)
    assert again.shards_reused == 3 and again.kept == 3 and dict(again.rejected) == EXPECTED_REJECTED


def test_unlicensed_card_refused_without_flag(corpus, tmp_path):
    card = _card(corpus, licence=None)
    with pytest.raises(CorpusError, match="--allow-unlicensed"):
        prepare(card, tmp_path / "p", DataSelection(card=""), progress=False)
    assert main(["prepare", str(card), "--out", str(tmp_path / "p"), "--no-progress"]) == 2
    assert main(["prepare", str(card), "--out", str(tmp_path / "p"), "--no-progress", "--allow-unlicensed",
                 "--languages", "cat"]) == 0


def test_minutes_subsets_are_nested_and_seeded():
    n = 200
    ds = datasets.Dataset.from_dict({"language": ["cat"] * n + ["swa"] * n, "speaker": ["s"] * (2 * n),
                                     "duration": [3.0] * (2 * n)})
    five = select_rows(ds, minutes=0.5, seed=3)
    fifteen = select_rows(ds, minutes=1.5, seed=3)
    assert len(five.indices) == 2 * 10 and len(fifteen.indices) == 2 * 30
    assert set(five.indices) <= set(fifteen.indices)
    assert select_rows(ds, minutes=0.5, seed=3).indices == five.indices
    assert select_rows(ds, minutes=0.5, seed=4).indices != five.indices
    only_cat = select_rows(ds, languages=["cat"], minutes=0.5, seed=3)
    assert only_cat.indices == [i for i in five.indices if i < n]  # other languages do not shift a subset
    assert only_cat.excluded_language == n
