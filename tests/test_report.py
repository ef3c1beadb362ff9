"""`multikd evaluate`: synthesis of held-out sentences, metrics files, tables, plots and the HTML report."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

import test_train
from conftest import requires
from multikd.cli.main import main
from multikd.errors import ConfigError, CorpusError
from multikd.recipe import load_recipe
from multikd.report import load_result, parse_speaker_map, parse_systems
from multikd.report.run import _choose_speaker, select_test_rows
from multikd.report.tables import data_efficiency_groups, fmt_ci, matrix_table, summary_markdown
from multikd.train.loop import train
from test_train import make_prepared, write_recipe

pytestmark = requires("espeak-ng")

# Held-out sentences for both languages, so every cell has two utterances and a confidence interval.
EXTRA = [("spa6", "spa", "es+f3", "test", "El gato duerme en la casa."),
         ("cat2", "cat", "ca", "test", "Avui fa sol i calor."),
         ("cat3", "cat", "ca", "test", "La taula és de fusta.")]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """A tiny model trained for 20 steps, evaluated as two systems on spa + cat by the CLI."""
    root = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(test_train, "UTTERANCES", test_train.UTTERANCES + EXTRA)
        prepared = make_prepared(root)
    cfg = json.loads((prepared / "config.json").read_text())
    (prepared / "config.json").write_text(json.dumps({**cfg, "synthetic": True}))  # the report must say so
    recipe = write_recipe(root, prepared, max_steps=20, save_every=20, warmup_steps=5, lr=5e-3)
    model = train(load_recipe(recipe), root / "run", progress=False).model_dir
    out = root / "eval"
    rc = main(["-q", "evaluate", "--systems", f"distill-5min={model}", f"distill-15min={model}",
               "--lang", "spa", "--lang", "cat", "--test", str(prepared), "--per-language", "3",
               "--metrics", "mcd,f0_rmse,vuv_error,duration", "--rtf-runs", "1", "--no-progress", "-o", str(out)])
    assert rc == 0
    return {"out": out, "model": model, "prepared": prepared}


def test_all_artifacts_and_metrics_schema(evaluated):
    out = evaluated["out"]
    for name in ("metrics.json", "metrics.csv", "summary.md", "index.html", "plots/bars-mcd_db.png",
                 "plots/efficiency-mcd_db.png"):
        assert (out / name).is_file(), name
    assert len(list((out / "plots").glob("mel-*.png"))) == 2  # one example sentence per language
    res = json.loads((out / "metrics.json").read_text())
    assert res["format"] == "multikd-evaluation" and res["version"] == 1
    assert res["languages"] == ["spa", "cat"] and res["test"]["synthetic"] is True
    assert res["test"]["split_used"] == {"spa": "test", "cat": "test"}
    assert res["test"]["n_per_language"] == {"spa": 2, "cat": 2}  # only held-out rows, never training ones
    assert {u["id"] for u in res["utterances"]["spa"]} == {"spa5", "spa6"}
    for name in ("distill-5min", "distill-15min"):
        sysres = res["systems"][name]
        for lang in ("spa", "cat"):
            cell = sysres["languages"][lang]
            assert cell["n"] == 2 and cell["speaker_notes"] == []  # reference speakers are known to the model
            mcd = cell["summary"]["values"]["mcd_db"]
            assert mcd["n"] == 2 and 0 < mcd["mean"] < 60 and mcd["ci_low"] <= mcd["mean"] <= mcd["ci_high"]
            for key in ("f0_rmse_cents", "vuv_error", "duration_log_error"):
                assert key in cell["summary"]["values"]
        cost = sysres["cost"]
        assert cost["parameters"] > 1000 and cost["folder_mb"] > 0 and cost["rtf_cpu_1thread"] > 0
    for lang, utts in res["utterances"].items():
        for u in utts:
            assert (out / "audio" / "reference" / f"{u['file']}.wav").is_file()
            for name in res["systems"]:
                assert (out / "audio" / name / f"{u['file']}.wav").is_file()


def test_csv_has_one_row_per_system_and_utterance(evaluated):
    with (evaluated["out"] / "metrics.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 4
    assert {(r["system"], r["id"]) for r in rows} == {(s, i) for s in ("distill-5min", "distill-15min")
                                                      for i in ("spa5", "spa6", "cat2", "cat3")}
    assert all(float(r["mcd_db"]) > 0 and (evaluated["out"] / r["hyp"]).is_file() for r in rows)
    # The same model under two names speaks the same way (Griffin-Lim is deterministic).
    by = {(r["system"], r["id"]): float(r["mcd_db"]) for r in rows}
    assert by[("distill-5min", "spa5")] == pytest.approx(by[("distill-15min", "spa5")], rel=1e-6)


def test_summary_markdown_tables(evaluated):
    text = (evaluated["out"] / "summary.md").read_text()
    assert "synthetic: true" in text and "## spa (2 sentences, split: test)" in text
    assert "| system" in text and "MCD dB ↓" in text and "## Cross-lingual matrix" in text and "## Cost" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("| distill-5min") and "±" in ln)
    assert line.count("±") == 4  # the four core metrics, each with its interval


def test_report_only_rebuild_and_matrix_print(evaluated, capsys, tmp_path):
    copy = tmp_path / "eval"
    shutil.copytree(evaluated["out"], copy)
    (copy / "index.html").unlink()
    assert main(["-q", "evaluate", "--report-only", "--matrix", "-o", str(copy)]) == 0
    printed = capsys.readouterr().out
    assert (copy / "index.html").is_file() and "cross-lingual matrix" in printed
    header = next(ln for ln in printed.splitlines() if ln.startswith("| system"))
    assert "spa" in header and "cat" in header
    assert load_result(copy)["systems"].keys() == {"distill-5min", "distill-15min"}


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.img, self.audio, self.ids, self.links = [], [], set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.img.append(a.get("src"))
        if tag == "audio" and "controls" in a:
            self.audio.append(a.get("src"))
        if tag == "a":
            self.links.append(a.get("href"))
        if "id" in a:
            self.ids.add(a["id"])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian: apt-get install chromium)")
def test_index_html_renders_offline_in_headless_chromium(evaluated):
    out = evaluated["out"]
    profile = tempfile.mkdtemp(prefix="multikd-chromium-")
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}"]
    try:
        dom = subprocess.run(flags + ["--dump-dom", (out / "index.html").as_uri()], capture_output=True, text=True,
                             timeout=60, env={**os.environ, "HOME": profile}).stdout
        shot = out / "screenshot.png"
        subprocess.run(flags + [f"--screenshot={shot}", "--window-size=1200,2000", (out / "index.html").as_uri()],
                       capture_output=True, timeout=60, env={**os.environ, "HOME": profile})
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    page = _Collect()
    page.feed(dom)
    assert "synthetic-warning" in page.ids  # the browser parsed the page and kept the banner
    assert len(page.audio) == 4 * 3  # per sentence: the reference and the two systems side by side
    assert len(page.img) >= 4
    for src in page.img + page.audio + [h for h in page.links if h]:
        assert not src.startswith(("http:", "https:", "/")), src  # relative links only: works offline
        assert (out / src).is_file(), src
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_parsing_and_speaker_choice():
    systems = parse_systems(["a=runs/a/model", "distill-5min=x"])
    assert [s.name for s in systems] == ["a", "distill-5min"] and systems[0].model_dir == Path("runs/a/model")
    for bad in (["noequals"], ["a=x", "a=y"], ["reference=x"], ["bad/name=x"]):
        with pytest.raises(ConfigError):
            parse_systems(bad)
    assert parse_speaker_map(["ona=slt", "t:ona=kal"]) == {(None, "ona"): "slt", ("t", "ona"): "kal"}

    class FakeSynth:
        speakers = ["kal", "slt"]

        def speaker(self, name, iso):
            return name or "kal"

    smap = parse_speaker_map(["ona=slt", "t:ona=kal"])
    assert _choose_speaker(FakeSynth(), "s", "slt", "eng", {}) == ("slt", None)
    spk, note = _choose_speaker(FakeSynth(), "s", "ona", "cat", {})
    assert spk == "kal" and "unknown to the model" in note
    assert _choose_speaker(FakeSynth(), "s", "ona", "cat", smap)[0] == "slt"
    assert _choose_speaker(FakeSynth(), "t", "ona", "cat", smap)[0] == "kal"  # per-system entry wins


def test_tables_and_efficiency_groups():
    assert data_efficiency_groups(["distill-5min", "distill-60min", "finetune-15min", "teacher"]) == \
        {"distill": [(5.0, "distill-5min"), (60.0, "distill-60min")]}
    assert fmt_ci({"mean": 5.0, "ci_low": 4.0, "ci_high": 6.5, "n": 3}) == "5.00 ± 1.25"
    assert fmt_ci({"mean": 5.0, "ci_low": None, "ci_high": None, "n": 1}) == "5.00 (n=1)"
    stat = {"mean": 6.0, "ci_low": 5.0, "ci_high": 7.0, "n": 4}
    result = {"languages": ["cat", "spa"], "metrics": ["mcd"],
              "metric_info": {"mcd": {"keys": ["mcd_db"], "higher_is_better": False, "description": "d"}},
              "systems": {"teacher": {"languages": {"cat": {"n": 0, "skipped": "teacher does not speak cat"},
                                                    "spa": {"n": 4, "summary": {"values": {"mcd_db": stat}}}}}},
              "test": {"path": "t", "synthetic": False, "split_used": {"cat": "all", "spa": "test"},
                       "n_per_language": {"cat": 4, "spa": 4}},
              "vocoder": "griffinlim", "created": "now"}
    header, rows = matrix_table(result)
    assert header[1:] == ["cat", "spa"] and rows == [["teacher", "not spoken", "6.00 ± 1.00"]]
    md = summary_markdown(result)
    assert "teacher does not speak cat" in md and "cat: the test folder has no `test` split" in md


def test_selection_errors(evaluated):
    with pytest.raises(CorpusError, match="no test sentences for yor"):
        select_test_rows(evaluated["prepared"], ["yor"], 3)
    rows, used = select_test_rows(evaluated["prepared"], None, 1)
    assert used == {"cat": "test", "spa": "test"} and all(len(r) == 1 for r in rows.values())
    assert main(["-q", "evaluate", "--systems", f"x={evaluated['model']}", "--test",
                 str(evaluated["prepared"]), "-o", "unused"]) == 2  # no --lang and no --matrix: a typed error
