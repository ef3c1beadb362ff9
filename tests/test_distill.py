"""Distillation: student initialisation, new-language rows, loss terms, teacher targets, the three modes."""
from __future__ import annotations

import json
import shutil
import subprocess

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import requires
from multikd.distill import losses as L
from multikd.distill.init import layer_map
from multikd.distill.recipe import load_distill_recipe
from multikd.errors import ConfigError
from test_train import SECTIONS

pytestmark = requires("espeak-ng")

TEACHER_UTTS = [(f"spa{i}", "spa", v, "", t) for i, (v, t) in enumerate([
    ("es", "El perro corre por el parque."), ("es+f3", "La casa es muy grande."),
    ("es", "¿Dónde está la estación?"), ("es+f3", "Hoy hace buen tiempo."),
    ("es", "Me gusta leer libros."), ("es+f3", "Vamos a la playa mañana.")])]
TARGET_UTTS = [("cat1", "cat", "ca", "", "Bon dia, com estàs?"), ("cat2", "cat", "ca", "", "La casa és molt gran."),
               ("cat3", "cat", "ca", "", "El gos corre pel parc."), ("cat4", "cat", "ca", "test", "Avui fa bon temps.")]
TEXT = "Bona nit a tothom.\nEl llibre és vermell.\n"
TEACHER_MODEL = {"encoder_layers": 2, "decoder_layers": 2}
STUDENT_MODEL = {"hidden": 16, "predictor_hidden": 16, "aligner_hidden": 16}


def _prepare(root: Path, utterances, name: str) -> Path:
    import datasets

    from multikd.data.prepare import prepare
    from multikd.recipe import DataSelection

    wd = root / f"{name}-wav"
    wd.mkdir(parents=True)
    rows = {"uid": [], "audio": [], "sentence": [], "spk": [], "lang": [], "split": []}
    for uid, lang, voice, split, text in utterances:
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wd / f"{uid}.wav"), text], check=True)
        for k, v in zip(rows, (uid, str(wd / f"{uid}.wav"), text, f"espeak-{voice}", lang, split)):
            rows[k].append(v)
    datasets.Dataset.from_dict(rows).cast_column("audio", datasets.Audio()).save_to_disk(str(root / f"{name}-disk"))
    langs = sorted({u[1] for u in utterances})
    header = {"pretty_name": name, "license": "cc0-1.0", "language": ["es" if x == "spa" else "ca" for x in langs],
              "task_categories": ["text-to-speech"], "size_categories": ["n<1K"],
              "multikd": {"languages": langs, "source": {"format": "hf_disk", "path": f"{name}-disk"},
                          "columns": {"audio": "audio", "text": "sentence", "speaker": "spk", "id": "uid",
                                      "language": "lang"},
                          "recording_conditions": "espeak-ng", "consent": "none", "personal_data": "none"}}
    card = root / f"{name}.md"
    card.write_text(f"---\n{yaml.safe_dump(header, sort_keys=False)}---\n{SECTIONS}", encoding="utf-8")
    prepare(card, root / name, DataSelection(card=""), progress=False)
    return root / name


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny spa teacher (2+2 layers, a few hundred steps) and a held-out cat target set."""
    from multikd.train.loop import train
    from multikd.recipe import load_recipe
    from test_train import write_recipe

    root = tmp_path_factory.mktemp("distill")
    teacher_data = _prepare(root, TEACHER_UTTS, "teacher")
    target_data = _prepare(root, TARGET_UTTS, "target")
    recipe = write_recipe(root, teacher_data, model=TEACHER_MODEL, max_steps=150, save_every=150,
                          batch_size=3, lr=3e-3, warmup_steps=10)
    train(load_recipe(recipe), root / "teacher-run", progress=False)
    (root / "text.txt").write_text(TEXT, encoding="utf-8")
    return {"root": root, "teacher": root / "teacher-run" / "model", "target": target_data, "source": teacher_data}


def distill_recipe(world, folder: Path, **distill) -> Path:
    recipe = {"name": "tiny-distill", "data": {"card": "unused.md", "prepared": [str(world["target"])]},
              "model": {"preset": "tiny", "overrides": STUDENT_MODEL},
              "train": {"batch_size": 2, "batch_frames": None, "lr": 2e-3, "warmup_steps": 2, "max_steps": 3,
                        "save_every": 3, "keep_last": 1, "sample_every": 0, "log_every": 1, "seed": 0},
              "distill": {"teacher": str(world["teacher"]), "text_file": str(world["root"] / "text.txt"),
                          "source_prepared": [str(world["source"])], **distill}}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    return path


def _batches(world, symbols, norm, n=2):
    from multikd.train.data import TTSDataset, collate, load_prepared

    ds = TTSDataset(load_prepared([world["target"]]), symbols, norm)
    return ds, [collate([ds[i] for i in range(k, min(k + 2, len(ds)))]) for k in range(0, min(len(ds), 2 * n), 2)]


def _setup(world, tmp_path, **distill):
    from multikd.distill import setup

    recipe = load_distill_recipe(distill_recipe(world, tmp_path, **distill))
    teacher = setup.load_teacher(recipe.resolve(recipe.distill.teacher))
    corpus = setup.target_corpus(recipe.prepared_dirs(), None, 0)
    symbols, norm, unseen = setup.vocabulary(teacher, corpus, [])
    extended, init = setup.extend_teacher(teacher, symbols, norm, unseen, corpus, recipe.distill,
                                          setup.inventories([world["source"]]))
    return recipe, teacher, corpus, symbols, norm, unseen, extended, init


# -- loss terms -------------------------------------------------------------------------------------------
def test_soft_target_kl_is_a_real_divergence():
    torch.manual_seed(0)
    zs, zt = torch.randn(2, 5, 16, requires_grad=True), torch.randn(2, 5, 16, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]], dtype=torch.bool)
    assert float(L.soft_target_loss(zt.detach(), zt.detach(), mask, 2.0)) == pytest.approx(0.0, abs=1e-6)
    loss = L.soft_target_loss(zs, zt, mask, 2.0)
    assert float(loss.detach()) > 0
    # Exactly T² · mean KL over real phones (padding ignored, whatever it holds).
    pt, ps = torch.softmax(zt / 2, -1), torch.softmax(zs / 2, -1)
    kl = (pt * (pt.log() - ps.log())).sum(-1)[mask].mean()
    assert float(loss.detach()) == pytest.approx(4 * float(kl.detach()), rel=1e-5)
    garbage = zs.detach().clone()
    garbage[0, 4], garbage[1, 2:] = 1e3, -1e3
    assert float(L.soft_target_loss(garbage, zt, mask, 2.0).detach()) == pytest.approx(float(loss.detach()), rel=1e-6)
    # T² keeps the term's scale: for logits small against T the raw KL falls like 1/T².
    small_s, small_t = 0.1 * zs.detach(), 0.1 * zt.detach()
    a, b = (float(L.soft_target_loss(small_s, small_t, mask, t)) for t in (4.0, 8.0))
    assert a == pytest.approx(b, rel=0.05)
    # Gradient reaches the student, never the teacher.
    loss.backward()
    assert zs.grad is not None and zs.grad.abs().sum() > 0 and zt.grad is None


def test_feature_adapters_train():
    from types import SimpleNamespace

    torch.manual_seed(0)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    hs = [torch.randn(2, 6, 8)]
    ht = [torch.randn(2, 6, 12), hs[0] @ torch.randn(8, 12)]  # teacher layer 1 is a linear map of student 0
    s_out = SimpleNamespace(encoder_hidden_states=hs, text_mask=mask)
    t_out = SimpleNamespace(encoder_hidden_states=ht, text_mask=mask)
    adapters = L.FeatureAdapters({"encoder.0": "encoder.1"}, 8, 12)
    before = [p.detach().clone() for p in adapters.parameters()]
    opt = torch.optim.Adam(adapters.parameters(), lr=0.05)
    first = float(adapters(s_out, t_out).detach())
    for _ in range(100):
        opt.zero_grad()
        adapters(s_out, t_out).backward()
        opt.step()
    assert float(adapters(s_out, t_out).detach()) < 0.1 * first
    assert all(not torch.equal(a, b) for a, b in zip(before, adapters.parameters()))


def test_domain_terms():
    torch.manual_seed(0)
    x = torch.randn(64, 8)
    for fn in (L.mmd_rbf, L.coral):
        assert float(fn(x, x)) == pytest.approx(0.0, abs=1e-6)
    near, far = L.mmd_rbf(x, torch.randn(64, 8) + 0.5), L.mmd_rbf(x, torch.randn(64, 8) + 3.0)
    assert 0 < float(near) < float(far)
    assert float(L.coral(x, 3 * torch.randn(64, 8))) > 0


def test_gt_and_seq_kd_losses(world, tmp_path):
    recipe, teacher, corpus, symbols, norm, unseen, extended, _ = _setup(world, tmp_path)
    _, (batch, *_) = _batches(world, symbols, norm, 1)
    from multikd.train.data import MODEL_INPUTS

    out = extended(**{k: batch[k] for k in MODEL_INPUTS})
    everyone = torch.ones(len(batch["ids"]), dtype=torch.bool)
    assert float(L.gt_loss(extended, out, batch, everyone)["gt_mel"]) == pytest.approx(float(out.losses["mel"]), rel=1e-4)
    assert float(L.gt_loss(extended, out, batch, ~everyone)["gt_mel"]) == 0.0
    own = {"t_mel": out.mel, "t_log_duration": out.log_duration, "t_pitch": out.pitch, "t_energy": out.energy}
    assert float(L.seq_kd_loss(extended, out, own)["seq_kd_mel"]) == 0.0
    shifted = {**own, "t_mel": out.mel + 1.0}
    assert float(L.seq_kd_loss(extended, out, shifted)["seq_kd_mel"]) == pytest.approx(1.0, rel=1e-4)


# -- initialisation and the new language --------------------------------------------------------------------
def test_layer_map():
    assert layer_map(4, 3) == [0, 2, 3] and layer_map(4, 4) == [0, 1, 2, 3] and layer_map(2, 1) == [1]


def test_symbols_merged_without_renumbering_and_new_rows_initialised(world, tmp_path):
    recipe, teacher, corpus, symbols, norm, unseen, extended, init = _setup(world, tmp_path)
    assert symbols.symbols[:len(teacher.symbols)] == teacher.symbols.symbols
    new = [r["phone"] for r in unseen]
    assert new and set(new) == set(symbols.phones) - set(teacher.symbols.phones)
    assert all(r["count"] > 0 and r["nearest"] for r in unseen)
    t_ids, e_ids = teacher.model.embed.ids.weight, extended.embed.ids.weight
    assert torch.equal(e_ids[:len(teacher.symbols)], t_ids)  # teacher rows untouched
    row = unseen[0]
    w = [1 / (n["distance"] + 0.1) for n in row["nearest"]]
    expect = sum(x / sum(w) * t_ids[teacher.symbols.id(n["phone"])] for n, x in zip(row["nearest"], w))
    assert torch.allclose(e_ids[symbols.id(row["phone"])], expect, atol=1e-6)
    # The new language (cat) starts from the only teacher language, the new speaker from its pitch neighbours.
    assert norm.languages[:len(teacher.norm.languages)] == teacher.norm.languages and "cat" in norm.languages
    assert init["language"] == {"cat": {"spa": 1.0}}
    lang = extended.condition.language.weight
    assert torch.allclose(lang[norm.languages.index("cat")], lang[norm.languages.index("spa")])
    spk_w = init["speaker"]["espeak-ca"]
    spk = extended.condition.speaker.weight
    expect = sum(x * spk[norm.speakers.index(s)] for s, x in spk_w.items())
    assert torch.allclose(spk[norm.speakers.index("espeak-ca")], expect, atol=1e-6)


def test_language_weights_are_inventory_overlaps_and_rows_the_weighted_mean():
    from multikd.distill import newlang

    inv = {"spa": {"a", "e", "o", "s"}, "ita": {"a", "e", "o", "ts"}, "deu": {"x", "ʏ"}}
    w = newlang.language_weights({"a", "e", "s", "ə"}, ["spa", "ita", "deu"], [], inv)
    assert sum(w.values()) == pytest.approx(1.0) and w["spa"] > w["ita"] > w["deu"] == 0.0
    assert newlang.language_weights(set(), ["spa", "ita"], ["ita"], inv) == {"ita": 1.0}
    with pytest.raises(ConfigError, match="init_languages"):
        newlang.language_weights(set(), ["spa"], ["fra"], inv)
    table = torch.randn(4, 5)
    newlang.fill_rows(table, {3: {0: w["spa"], 1: w["ita"], 2: w["deu"]}})
    assert torch.allclose(table[3], w["spa"] * table[0] + w["ita"] * table[1])


def test_student_init_is_closer_to_the_teacher_than_random(world, tmp_path):
    from multikd.distill.setup import make_student
    from multikd.train.data import MODEL_INPUTS

    recipe, teacher, corpus, symbols, norm, unseen, extended, _ = _setup(world, tmp_path)
    ds, batches = _batches(world, symbols, norm)
    inited, P = make_student(recipe.model, extended, symbols, norm, ds, "finetune", 2, 2, 0)
    scratch, none = make_student(recipe.model, extended, symbols, norm, ds, "scratch", 2, 2, 0)
    assert none is None and P.shape == (16, 32)
    assert torch.allclose(P @ P.T, torch.eye(16), atol=1e-4)

    @torch.no_grad()
    def distance(model):
        model.eval()
        mel, dur = [], []
        for b in batches:
            t = extended(**{k: b[k] for k in MODEL_INPUTS})
            s = model(**{k: b[k] for k in MODEL_INPUTS}, durations=t.durations)  # the same frames
            mel.append(float((s.mel - t.mel).abs().mean(-1)[t.mel_mask].mean()))
            dur.append(float(L.soft_target_loss(s.duration_logits, t.duration_logits, t.text_mask, 1.0)))
        return np.mean(mel), np.mean(dur)

    (mel_i, dur_i), (mel_r, dur_r) = distance(inited), distance(scratch)
    assert mel_i < 0.5 * mel_r and dur_i < dur_r, (mel_i, mel_r, dur_i, dur_r)


# -- teacher targets and the command ---------------------------------------------------------------------------
def _cli(*args) -> int:
    from multikd.cli.main import main

    return main(["-q", "distill", *map(str, args), "--no-progress"])


def test_teacher_targets_written_once_with_confidence_and_filter_counts(world, tmp_path):
    import datasets

    recipe = distill_recipe(world, tmp_path, confidence_threshold=0.5, targets_dir=str(tmp_path / "targets"))
    assert _cli(recipe, "--run-dir", tmp_path / "a") == 0
    report = json.loads((tmp_path / "targets" / "report.json").read_text())
    ds = datasets.load_from_disk(str(tmp_path / "targets" / "dataset"))
    assert report["sources"]["audio"]["total"] == 3 and report["sources"]["text"]["total"] == 2
    assert sum(s["dropped"] for s in report["sources"].values()) == len(report["dropped_ids"])
    assert all(0 <= c <= 1 for c in ds["confidence"])
    assert [k for k, c in zip(ds["kept"], ds["confidence"]) if k != (c >= 0.5)] == []
    audio = [r for r in ds if r["source"] == "audio"]
    assert all(np.isfinite(r["mel_l1"]) and sum(r["durations"]) == len(r["mel"]) for r in audio)
    text = [r for r in ds if r["source"] == "text"]
    assert text[0]["text"] == "Bona nit a tothom." and len(text[0]["t_pitch_logits"]) == len(text[0]["phones"]) + 2
    stamp = (tmp_path / "targets" / "report.json").stat().st_mtime_ns
    assert _cli(recipe, "--run-dir", tmp_path / "b") == 0  # a second run reads them, never rewrites
    assert (tmp_path / "targets" / "report.json").stat().st_mtime_ns == stamp
    unseen = json.loads((tmp_path / "a" / "unseen_phones.json").read_text())
    assert {r["phone"] for r in unseen["unseen_phones"]} >= {"ə", "ʎ"}


@pytest.mark.parametrize("mode", ["distill", "finetune", "scratch"])
def test_each_mode_runs_end_to_end(world, tmp_path, mode):
    recipe = distill_recipe(world, tmp_path, weights={"gt": 1.0, "seq_kd": 1.0, "soft": 0.5, "feat": 0.1,
                                                      "domain": 0.1})
    assert _cli(recipe, "--mode", mode, "--run-dir", tmp_path / "run", "--minutes", 0.05) == 0
    run = tmp_path / "run"
    info = json.loads((run / "run.json").read_text())
    assert info["mode"] == mode and (run / "model" / "model.safetensors").is_file()
    assert info["utterances"] >= 1
    from multikd.synthesis import Synthesizer

    assert "cat" in Synthesizer(run / "model").languages
    assert _cli(recipe, "--mode", mode, "--run-dir", run, "--minutes", 0.05, "--set", "train.max_steps=4") == 0
    assert json.loads((run / "run.json").read_text())["resumes"][0]["step"] == 3


def test_scratch_differs_from_finetune_only_in_init(world, tmp_path):
    from safetensors.torch import load_file

    recipe = distill_recipe(world, tmp_path, mode="finetune")
    runs = {}
    for mode in ("finetune", "scratch"):
        assert _cli(recipe, "--mode", mode, "--run-dir", tmp_path / mode, "--set", "train.max_steps=1") == 0
        runs[mode] = tmp_path / mode
    for name in ("symbols.json", "norm.json"):
        assert (runs["finetune"] / name).read_text() == (runs["scratch"] / name).read_text()
    info = {m: json.loads((r / "run.json").read_text()) for m, r in runs.items()}
    for key in ("utterances", "weights", "student_parameters"):
        assert info["finetune"][key] == info["scratch"][key]
    cfg = {m: json.loads((r / "model" / "config.json").read_text()) for m, r in runs.items()}
    assert {k: v for k, v in cfg["finetune"].items() if k != "transformers_version"} == \
        {k: v for k, v in cfg["scratch"].items() if k != "transformers_version"}
    wf, ws = (load_file(str(r / "model" / "model.safetensors")) for r in runs.values())
    assert not torch.allclose(wf["mel_out.weight"], ws["mel_out.weight"])


def test_recipe_errors_name_the_field(world, tmp_path):
    with pytest.raises(ConfigError, match="distill.mode"):
        load_distill_recipe(distill_recipe(world, tmp_path, mode="teach"))
    with pytest.raises(ConfigError, match="distill.weights.domain"):
        load_distill_recipe(distill_recipe(world, tmp_path, weights={"domain": 1.0}, source_prepared=[]))


def test_adapt_mode_trains_the_extended_teacher_itself(world, tmp_path):
    from safetensors.torch import load_file

    recipe = distill_recipe(world, tmp_path)
    assert _cli(recipe, "--mode", "adapt", "--run-dir", tmp_path / "adapt", "--set", "train.max_steps=2") == 0
    adapted = json.loads((tmp_path / "adapt" / "model" / "config.json").read_text())
    teacher = json.loads((world["teacher"] / "config.json").read_text())
    assert (adapted["hidden"], adapted["encoder_layers"]) == (teacher["hidden"], teacher["encoder_layers"])
    assert "cat" in adapted["language_names"]
    # it learnt: the teacher's own rows moved (a phone both know, at the same id)
    symbols = json.loads((world["teacher"] / "symbols.json").read_text())
    shared = load_file(str(world["teacher"] / "model.safetensors"))["embed.ids.weight"]
    moved = load_file(str(tmp_path / "adapt" / "model" / "model.safetensors"))["embed.ids.weight"]
    assert not torch.allclose(shared, moved[:shared.shape[0]])
    assert len(symbols["symbols"] if isinstance(symbols, dict) else symbols) <= moved.shape[0]


def test_distill_with_adaptation_learns_from_the_adapted_teacher(world, tmp_path):
    import datasets

    from multikd.models import AcousticModel

    recipe = distill_recipe(world, tmp_path, adapt_steps=2)
    assert _cli(recipe, "--run-dir", tmp_path / "run") == 0
    adapted_dir = tmp_path / "run" / "teacher-adapted"
    assert json.loads((adapted_dir / "run.json").read_text())["mode"] == "adapt"
    assert (adapted_dir / "checkpoints").is_dir()
    # the audio targets are the adapted teacher's predictions, not the zero-shot teacher's
    ds = datasets.load_from_disk(str(tmp_path / "run" / "targets" / "dataset"))
    row = next(r for r in ds if r["source"] == "text")
    adapted = AcousticModel.from_pretrained(str(adapted_dir / "model")).eval()
    from multikd.text.symbols import SymbolTable

    symbols = SymbolTable.load(tmp_path / "run" / "symbols.json")
    ids = torch.tensor([symbols.encode(row["phones"])])
    norm = json.loads((tmp_path / "run" / "norm.json").read_text())
    with torch.no_grad():
        res = adapted.inference(ids, torch.tensor([ids.shape[1]]),
                                torch.tensor([norm["languages"].index(row["language"])]),
                                torch.tensor([norm["speakers"].index(row["speaker"])]))
    assert np.allclose(np.array(row["mel"]), res["mel"][0, :len(row["mel"])].numpy(), atol=1e-4)


def test_new_language_row_from_the_teachers_inventories_file(world, tmp_path):
    from multikd.distill import setup
    from multikd.train.data import load_prepared

    inv = setup.inventories([world["source"]])
    assert inv and all(inv.values())
    teacher_dir = tmp_path / "teacher"
    shutil.copytree(world["teacher"], teacher_dir)
    (teacher_dir / "inventories.json").unlink()
    assert setup.inventories([], teacher_dir) == {}  # an older export without the file: no overlap weights
    (teacher_dir / "inventories.json").write_text(json.dumps({k: sorted(v) for k, v in inv.items()}))
    assert setup.inventories([], teacher_dir) == inv
    # a teacher trained by train-teacher carries it
    corpus = load_prepared([world["source"]])
    assert json.loads((world["teacher"].parent / "model" / "inventories.json").read_text()) == \
        {lang: sorted(set(p for lg, ph in zip(corpus.column("language"), corpus.column("phones")) if lg == lang
                          for p in ph)) for lang in sorted(inv)}


def test_commands_that_need_only_data_and_audio_take_a_distill_recipe(world, tmp_path):
    from multikd.distill.recipe import DistillRecipe
    from multikd.recipe import Recipe, load_any_recipe

    recipe = load_any_recipe(distill_recipe(world, tmp_path / "d"))
    assert isinstance(recipe, DistillRecipe) and recipe.data.prepared == [str(world["target"])]
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump({"name": "t", "data": {"card": "c.md"}}))
    assert type(load_any_recipe(plain)) is Recipe
    with pytest.raises(ConfigError, match="distill.bogus"):
        load_any_recipe(distill_recipe(world, tmp_path / "e", bogus=1))
