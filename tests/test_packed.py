"""`multikd pack`: a packed prepared corpus reads back through load_prepared like the original folder."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from multikd.audio.config import AudioConfig
from multikd.errors import CorpusError
from multikd.text.symbols import SymbolTable
from multikd.train.data import TTSDataset, compute_norm, load_prepared
from multikd.train.packed import PackedCorpusPart, is_packed, pack_prepared

PHONES = [["h", "ˈ", "o", "l", "a"], ["k", "ˈ", "e", "#", "t", "a", "l", "?"], ["m", "ˈ", "a", "ɾ"],
          ["ˈ", "o", "#", "s", "a", "l"]]


def make_prepared(root: Path, lengths=(37, 52, 20, 61)) -> Path:
    """A tiny prepared folder written directly (no audio): random ln-mel, F0 with unvoiced frames."""
    import datasets

    rng = np.random.default_rng(0)
    rows = {"id": [], "speaker": [], "language": [], "phones": [], "n_frames": [], "mel": [], "f0": [],
            "energy": [], "split": [], "text": []}
    for k, (n, ph) in enumerate(zip(lengths, PHONES)):
        f0 = rng.uniform(90, 250, n).astype(np.float32)
        f0[rng.random(n) < 0.3] = 0.0
        rows["id"].append(f"u{k}")
        rows["speaker"].append("s1" if k % 2 else "s2")
        rows["language"].append("spa")
        rows["phones"].append(ph)
        rows["n_frames"].append(n)
        rows["mel"].append(rng.uniform(np.log(1e-5), 2.5, (n, 80)).astype(np.float32))
        rows["f0"].append(f0)
        rows["energy"].append(rng.uniform(1e-3, 5.0, n).astype(np.float32))
        rows["split"].append("test" if k == 2 else "train")
        rows["text"].append(f"text {k}")
    feats = datasets.Features({"id": datasets.Value("string"), "speaker": datasets.Value("string"),
                               "language": datasets.Value("string"), "phones": datasets.List(datasets.Value("string")),
                               "n_frames": datasets.Value("int32"), "mel": datasets.Array2D((None, 80), "float32"),
                               "f0": datasets.List(datasets.Value("float32")),
                               "energy": datasets.List(datasets.Value("float32")),
                               "split": datasets.Value("string"), "text": datasets.Value("string")})
    folder = root / "prepared"
    datasets.Dataset.from_dict(rows, features=feats).save_to_disk(str(folder / "dataset"))
    (folder / "config.json").write_text(json.dumps({"audio": AudioConfig().to_dict()}), encoding="utf-8")
    SymbolTable([p for ph in PHONES for p in ph]).save(folder / "symbols.json")
    pitch = {"log_mean": 5.0, "log_std": 0.2, "n_voiced": 100}
    (folder / "speakers.json").write_text(json.dumps({"s1": {"pitch": pitch}, "s2": {"pitch": pitch}}),
                                          encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("packed")
    prepared = make_prepared(root)
    summary = pack_prepared([prepared], root / "packed")
    return prepared, root / "packed", summary[0]


def test_packed_reads_back_like_the_prepared_folder(folders):
    prepared, packed, summary = folders
    assert is_packed(packed) and not is_packed(prepared)
    assert summary["utterances"] == 4 and summary["dropped_utterances"] == 0
    a, b = load_prepared([prepared]), load_prepared([packed])
    assert a.rows == b.rows and a.symbols == b.symbols and a.audio == b.audio
    assert a.speaker_stats == b.speaker_stats
    for col in ("id", "language", "speaker", "n_frames"):
        assert a.column(col) == b.column(col)
    assert [list(p) for p in a.column("phones")] == [list(p) for p in b.column("phones")]
    norm = compute_norm(a)
    da, db = TTSDataset(a, a.symbols, norm), TTSDataset(b, b.symbols, norm)
    assert da.phone_ids == db.phone_ids and da.language_ids == db.language_ids and da.lengths == db.lengths
    step = summary["mel_quantisation"]["scale"]
    bound = summary["mel_quantisation"]["max_abs_error"]
    assert bound == pytest.approx(step / 2) and step < 0.06  # 256 levels over ln(1e-5)..2.5
    for (p, r) in a.rows:
        ra, rb = a.parts[p][r], b.parts[p][r]
        assert rb["mel"].dtype == np.float32 and rb["mel"].shape == ra["mel"].shape
        assert np.max(np.abs(rb["mel"] - ra["mel"])) <= bound + 1e-5
        np.testing.assert_allclose(rb["f0"], ra["f0"], rtol=1e-3)
        assert np.array_equal(rb["f0"] == 0, np.asarray(ra["f0"]) == 0)  # voicing is exact
        np.testing.assert_allclose(rb["energy"], ra["energy"], rtol=1e-3)


def test_max_megabytes_drops_the_longest_utterances(folders, tmp_path):
    prepared, _, _ = folders
    per_frame = 80 + 4
    s = pack_prepared([prepared], tmp_path / "small", max_megabytes=(37 + 52 + 20) * per_frame / 1e6)[0]
    assert s["dropped_utterances"] == 1 and s["dropped_frames"] == 61
    assert PackedCorpusPart(tmp_path / "small")["id"] == ["u0", "u1", "u2"]


def test_not_a_prepared_folder(tmp_path):
    with pytest.raises(CorpusError):
        pack_prepared([tmp_path], tmp_path / "out")
    with pytest.raises(CorpusError):
        load_prepared([tmp_path])


def test_training_on_packed_without_tensorboard_or_samples(folders, tmp_path, monkeypatch, caplog):
    """The GPU-machine path: packed data, no TensorBoard (a warning, metrics.jsonl), sample_every -1."""
    import sys

    import yaml

    from multikd.recipe import load_recipe
    from multikd.train.loop import train

    _, packed, _ = folders
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import → ImportError
    recipe = {"name": "packed", "data": {"card": "unused.md", "prepared": [str(packed)]},
              "model": {"preset": "tiny", "overrides": {}},
              "train": {"batch_size": 2, "batch_frames": None, "max_steps": 2, "warmup_steps": 1, "save_every": 2,
                        "sample_every": -1, "log_every": 1, "mixed_precision": "no"}}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    with caplog.at_level("WARNING"):
        res = train(load_recipe(path), tmp_path / "run", progress=False)
    assert res.step == 2 and (res.model_dir / "model.safetensors").is_file()
    assert not (tmp_path / "run" / "samples").exists() and not (tmp_path / "run" / "tensorboard").exists()
    assert sum("TensorBoard is not installed" in r.message for r in caplog.records) == 1
    lines = (tmp_path / "run" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2]

    # train.init_from: a fresh model takes the exported weights; other symbols are refused.
    import torch

    from multikd.errors import ConfigError
    from multikd.train.data import NormStats
    from multikd.train.loop import build_model, init_weights

    r = load_recipe(path)
    symbols, norm = SymbolTable.load(res.model_dir / "symbols.json"), NormStats.load(res.model_dir / "norm.json")
    fresh = build_model(r.model, symbols, norm, 80)
    init_weights(fresh, res.model_dir, symbols, norm)
    exported = load_file(str(res.model_dir / "model.safetensors"))
    state = fresh.state_dict()
    assert all(torch.equal(state[k], v) for k, v in exported.items())
    with pytest.raises(ConfigError):
        init_weights(fresh, res.model_dir, SymbolTable(symbols.phones + ["ʒ"]), norm)


def test_sample_every_below_minus_one_is_refused():
    from multikd.errors import ConfigError
    from multikd.recipe import TrainSection

    with pytest.raises(ConfigError):
        TrainSection(sample_every=-2).validate()
