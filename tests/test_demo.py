"""`multikd demo --quick`: the README's main command, end to end (corpus → students → report), as CI runs it."""
import json

import pytest

from conftest import requires
from multikd.cli.main import main
from multikd.demo import PLANS, summary_table
from multikd.errors import ConfigError

pytestmark = [requires("espeak-ng"), requires("festival")]


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--quick", "--out", str(out), "--threads", "1", "--no-progress"]) == 0
    return out


def test_quick_demo_writes_students_report_and_summary(quick_demo, capsys):
    out = quick_demo
    for mode in ("distill", "finetune", "scratch"):
        run = out / "runs" / "cat" / mode
        assert (run / "model" / "model.safetensors").is_file()
        assert json.loads((run / "run.json").read_text())["mode"] == mode
    # distillation adapted the teacher first and wrote its targets, text without audio included
    assert (out / "runs" / "cat" / "distill" / "teacher-adapted" / "model" / "config.json").is_file()
    report = json.loads((out / "runs" / "cat" / "distill" / "targets" / "report.json").read_text())
    assert report["sources"]["audio"]["total"] > 0 and report["sources"]["text"]["total"] > 0
    text = (out / "text" / "cat-train.txt").read_text(encoding="utf-8").splitlines()
    recorded = set(json.loads(line)["text"] for line in (out / "prepared" / "cat-train" / "metadata.jsonl")
                   .read_text(encoding="utf-8").splitlines() if line.strip())
    assert not recorded & set(text[1:]), "text without audio must not repeat a recorded sentence"
    # evaluation: every system scored on held-out sentences, one page per language and a summary
    metrics = json.loads((out / "eval" / "cat" / "metrics.json").read_text())
    assert set(metrics["systems"]) == {"distill", "finetune", "scratch", "teacher-adapted", "teacher-zero-shot"}
    for name, sysres in metrics["systems"].items():
        assert sysres["languages"]["cat"]["n"] == PLANS["quick"].per_language, name
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in summary.upper() and "teacher-zero-shot" in summary
    assert (out / "index.html").is_file() and (out / "eval" / "cat" / "index.html").is_file()


def test_quick_demo_resumes_without_retraining(quick_demo, capsys):
    before = {m: (quick_demo / "runs" / "cat" / m / "model" / "model.safetensors").stat().st_mtime_ns
              for m in ("distill", "finetune", "scratch")}
    assert main(["demo", "--quick", "--out", str(quick_demo), "--threads", "1", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("trained already") == 3 and "prepared already" in printed
    after = {m: (quick_demo / "runs" / "cat" / m / "model" / "model.safetensors").stat().st_mtime_ns
             for m in before}
    assert before == after


def test_unknown_demo_language_is_a_config_error(tmp_path):
    from multikd.demo import run_demo

    with pytest.raises(ConfigError, match="not demo target languages"):
        run_demo(tmp_path, variant="quick", languages=["eng"], progress=False)


def test_summary_table_marks_missing_numbers():
    stat = {"mean": 3.0, "ci_low": 2.5, "ci_high": 3.5, "n": 4}
    rows = [{"language": "cat", "system": "distill", "n": 4, "mcd_db": stat, "f0_rmse_cents": None,
             "vuv_error": stat, "duration_log_error": stat, "parameters": 1.04e6, "rtf": 0.03}]
    out = summary_table(rows)
    assert "3.00 ± 0.50" in out and "1.04 M" in out and "| - " in out
