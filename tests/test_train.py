"""Training data, batching, checkpoints and resume (also after SIGKILL) on a tiny espeak-ng corpus."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from conftest import REPO, requires
from multikd.errors import ConfigError, SymbolTableError
from multikd.text.symbols import BOS, EOS, PAD, SymbolTable
from multikd.train.checkpoints import list_checkpoints, read_state
from multikd.recipe import load_recipe
from multikd.train.data import TTSDataset, collate, compute_norm, load_prepared
from multikd.train.loop import lr_at, train
from multikd.train.sampler import BucketBatchSampler

pytestmark = requires("espeak-ng")

SECTIONS = "".join(f"\n## {s}\ntext\n" for s in ("Summary", "Languages", "Fields", "Splits", "Source", "Limitations"))
# (id, language, espeak voice → speaker, split, text). No "ñ" anywhere: test_synthesis needs a phone (ɲ)
# that the tiny model's table lacks.
UTTERANCES = [
    ("spa1", "spa", "es", "", "El perro corre por el parque."),
    ("spa2", "spa", "es+f3", "", "La casa es muy grande."),
    ("spa3", "spa", "es", "", "¿Dónde está la estación?"),
    ("spa4", "spa", "es+f3", "", "Hoy hace buen tiempo."),
    ("cat1", "cat", "ca", "", "Bon dia, com estàs?"),
    ("spa5", "spa", "es", "test", "Me gusta leer libros."),
]


def make_prepared(root: Path) -> Path:
    """Prepare six espeak-ng utterances (two languages, three speakers, one held-out) into root/prepared."""
    import datasets

    from multikd.data.prepare import prepare
    from multikd.recipe import DataSelection

    wd = root / "wav"
    wd.mkdir(parents=True)
    rows = {"uid": [], "audio": [], "sentence": [], "spk": [], "lang": [], "split": []}
    for uid, lang, voice, split, text in UTTERANCES:
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wd / f"{uid}.wav"), text], check=True)
        for k, v in zip(rows, (uid, str(wd / f"{uid}.wav"), text, f"espeak-{voice}", lang, split)):
            rows[k].append(v)
    datasets.Dataset.from_dict(rows).cast_column("audio", datasets.Audio()).save_to_disk(str(root / "disk"))
    header = {"pretty_name": "tiny", "license": "cc0-1.0", "language": ["es", "ca"],
              "task_categories": ["text-to-speech"], "size_categories": ["n<1K"],
              "multikd": {"languages": ["spa", "cat"], "source": {"format": "hf_disk", "path": "disk"},
                          "columns": {"audio": "audio", "text": "sentence", "speaker": "spk", "id": "uid",
                                      "language": "lang"},
                          "recording_conditions": "espeak-ng", "consent": "none", "personal_data": "none"}}
    card = root / "tiny.md"
    card.write_text(f"---\n{yaml.safe_dump(header, sort_keys=False)}---\n{SECTIONS}", encoding="utf-8")
    res = prepare(card, root / "prepared", DataSelection(card=""), progress=False)
    assert res.kept == len(UTTERANCES), res.rejected
    return root / "prepared"


def write_recipe(folder: Path, prepared: Path, model: dict | None = None, **train) -> Path:
    settings = {"batch_size": 2, "batch_frames": None, "lr": 2e-3, "warmup_steps": 2, "max_steps": 4,
                "save_every": 2, "keep_last": 2, "sample_every": 0, "log_every": 1, "seed": 0, **train}
    recipe = {"name": "tiny-teacher", "data": {"card": "unused.md", "prepared": [str(prepared)]},
              "model": {"preset": "tiny", "overrides": model or {}}, "train": settings}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return make_prepared(tmp_path_factory.mktemp("corpus"))


def test_dataset_and_collate_shapes_and_padding(prepared):
    corpus = load_prepared([prepared])
    assert len(corpus) == 5  # the "test" utterance is held out of the training split
    norm = compute_norm(corpus)
    assert norm.languages == ["cat", "spa"] and norm.speakers == ["espeak-ca", "espeak-es", "espeak-es+f3"]
    ds = TTSDataset(corpus, corpus.symbols, norm)
    item = ds[0]
    t_mel = item["mel"].shape[0]
    assert item["mel"].shape == (t_mel, 80) and item["pitch"].shape == item["energy"].shape == (t_mel,)
    assert item["phone_ids"][0] == BOS and item["phone_ids"][-1] == EOS
    f0 = np.asarray(corpus.parts[0][corpus.rows[0][1]]["f0"])
    assert torch.all(item["pitch"][torch.from_numpy(f0 == 0)] == 0)  # unvoiced → exactly 0
    voiced = item["pitch"][torch.from_numpy(f0 > 0)]
    assert voiced.std() > 0.1 and abs(float(voiced.mean())) < 2  # z-scored, not Hz
    batch = collate([ds[i] for i in range(3)])
    lengths = batch["mel_lengths"].tolist()
    assert batch["mels"].shape == (3, max(lengths), 80) and batch["pitch"].shape == (3, max(lengths))
    for b in range(3):
        n, m = int(batch["text_lengths"][b]), lengths[b]
        assert torch.all(batch["phone_ids"][b, n:] == PAD) and torch.all(batch["phone_ids"][b, :n] != PAD)
        assert torch.all(batch["mels"][b, m:] == float(np.log(1e-5))) and torch.all(batch["energy"][b, m:] == 0)
        assert torch.equal(batch["mels"][b, :m], ds[b]["mel"])
    # Two folders: rows add up, the merged table keeps the first folder's ids.
    both = load_prepared([prepared, prepared])
    assert len(both) == 10 and both.symbols == corpus.symbols


def test_unmappable_phone_names_the_utterance(prepared):
    corpus = load_prepared([prepared])
    small = SymbolTable(p for p in corpus.symbols.phones if p != "ɾ")
    with pytest.raises(SymbolTableError, match=r"utterance spa\d.*'ɾ'"):
        TTSDataset(corpus, small, compute_norm(corpus))


def test_bucket_sampler_covers_every_item_once_within_budget():
    lengths = np.random.default_rng(0).integers(50, 900, 203).tolist() + [5000]  # one over budget
    sampler = BucketBatchSampler(lengths, batch_frames=3000, seed=1)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        flat = sorted(i for b in batches for i in b)
        assert flat == list(range(len(lengths)))
        assert all(max(lengths[i] for i in b) * len(b) <= 3000 or len(b) == 1 for b in batches)
        spread = [max(lengths[i] for i in b) / min(lengths[i] for i in b) for b in batches]
        assert np.median(spread) < 1.3  # bucketed: similar lengths together
    assert sampler.epoch_batches(0) != sampler.epoch_batches(1)  # reshuffled per epoch
    sampler.set_epoch(1, skip=3)
    assert list(sampler) == sampler.epoch_batches(1)[3:]
    ranks = [BucketBatchSampler(lengths, batch_size=7, seed=1, num_replicas=3, rank=r) for r in range(3)]
    per_rank = [list(r) for r in ranks]
    assert len({len(b) for b in per_rank}) == 1
    assert sorted({i for b in per_rank for batch in b for i in batch}) == list(range(len(lengths)))


def test_lr_schedule_warms_up_then_decays(tmp_path):
    cfg = load_recipe(write_recipe(tmp_path, tmp_path, warmup_steps=10, lr=1e-3)).train
    lrs = [lr_at(s, cfg) for s in range(40)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a > b for a, b in zip(lrs[10:], lrs[11:]))
    with pytest.raises(ConfigError, match="train.mixed_precision"):
        load_recipe(write_recipe(tmp_path, tmp_path, mixed_precision="fp8"))


def _weights(run: Path) -> dict:
    return load_file(str(run / "model" / "model.safetensors"))


def test_train_checkpoint_resume_equals_uninterrupted(prepared, tmp_path):
    # Dropout on: the resumed run must also restore the RNG states to draw the same masks.
    recipe = write_recipe(tmp_path, prepared, model={"dropout": 0.2})
    straight = train(load_recipe(recipe), tmp_path / "a", progress=False)
    assert straight.step == 4 and straight.stopped_by == "max_steps"
    a = tmp_path / "a"
    assert [s for s, _ in list_checkpoints(a)] == [2, 4]
    for name in ("config.yaml", "run.json", "model/config.json", "model/symbols.json", "model/norm.json",
                 "model/audio.json"):
        assert (a / name).is_file(), name
    run = json.loads((a / "run.json").read_text())
    assert run["versions"]["torch"] and run["data"][0]["sha1"] and run["resumes"] == []
    assert list((a / "tensorboard").glob("events.out.tfevents.*"))
    sample_dir = a / "samples" / "step-0000004"
    assert {p.name for p in sample_dir.iterdir()} >= {"spa.wav", "spa-mel.png", "spa-alignment.png", "cat.wav"}

    first = train(load_recipe(recipe, ["train.max_steps=2"]), tmp_path / "b", progress=False)
    assert first.step == 2
    opt_at_2 = torch.load(list_checkpoints(tmp_path / "b")[-1][1] / "optimizer.bin", weights_only=True)
    resumed = train(load_recipe(recipe), tmp_path / "b", progress=False)
    assert resumed.step == 4
    assert json.loads((tmp_path / "b" / "run.json").read_text())["resumes"][0]["step"] == 2
    # The same optimizer state was restored: Adam's step counters continue from 2 ...
    state_b = torch.load(list_checkpoints(tmp_path / "b")[-1][1] / "optimizer.bin", weights_only=True)
    assert {float(s["step"]) for s in opt_at_2["state"].values()} == {2.0}
    assert {float(s["step"]) for s in state_b["state"].values()} == {4.0}
    # ... and data order, RNG and moments match, so 2 + 2 steps give exactly the 4-step weights.
    wa, wb = _weights(a), _weights(tmp_path / "b")
    assert wa.keys() == wb.keys()
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)


def test_sigkill_mid_run_then_restart_resumes_and_finishes(prepared, tmp_path):
    recipe = write_recipe(tmp_path, prepared, max_steps=10_000, save_every=2, keep_last=2)
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "multikd.cli.main", "-q", "train-teacher", str(recipe),
                             "--run-dir", str(run), "--no-progress"], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not any(s >= 6 for s, _ in list_checkpoints(run)):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = list_checkpoints(run)
    last = done[-1][0]
    assert len(done) <= 2 and not (run / "model").exists()
    result = train(load_recipe(recipe, [f"train.max_steps={last + 2}"]), run, progress=False)
    assert result.step == last + 2
    info = json.loads((run / "run.json").read_text())
    assert info["resumes"][-1]["step"] == last  # restarted from the newest complete checkpoint
    assert read_state(list_checkpoints(run)[-1][1])["step"] == last + 2
    assert not list((run / "checkpoints").glob(".*.tmp"))
    assert (run / "model" / "model.safetensors").is_file()


def test_gradient_accumulation_counts_micro_batches(prepared, tmp_path):
    recipe = write_recipe(tmp_path, prepared, batch_size=1, grad_accum=2, max_steps=2, save_every=2)
    result = train(load_recipe(recipe), tmp_path / "run", progress=False)
    state = read_state(list_checkpoints(tmp_path / "run")[-1][1])
    assert result.step == 2 and (state["epoch"], state["batch_in_epoch"]) == (0, 4)
