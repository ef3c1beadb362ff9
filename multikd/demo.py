"""`multikd demo`: the whole pipeline on the offline demo corpus, end to end, resumable.

Stages (each writes an artifact the next one reads; a finished stage is skipped on a re-run with the same
plan, an interrupted training run resumes from its last checkpoint):

1. corpus    render the held-out target voices (festival ona → cat, festival nsk → mar, espeak-ng → swa)
             from the shipped text: synthetic speech, no download (``OUT/corpus``)
2. teacher   the shipped ``pretrained/demo-teacher``, or with ``--train-teacher`` one trained here on the
             teacher languages' voices (long on a CPU)
3. prepare   per language: a seeded N-minute training set and the held-out test sentences
             (``OUT/prepared/<lang>-train``, ``OUT/prepared/<lang>-test``), plus the language's training
             sentences that have no recording, as text without audio for distillation (``OUT/text``)
4. train     per language: distill (after adapting the teacher), finetune and scratch — same data, steps
             and seed (``OUT/runs/<lang>/<mode>``), and the zero-shot extended teacher
5. evaluate  per language: every system on the held-out sentences → ``OUT/eval/<lang>/index.html``;
             all languages → ``OUT/summary.md`` and ``OUT/index.html``, and a table on the terminal

The plan (languages, minutes, steps) is fixed per variant: ``full`` (the README's main command; sized to
finish in about 20 minutes on a 2-core CPU) and ``quick`` (one language, a few minutes; what CI runs).
Student numbers after so few CPU steps show the pipeline working, not what the method reaches:
``recipes/demo-distill`` is the longer experiment.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from multikd.errors import ConfigError

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
DISTILL_RECIPE = REPO / "recipes" / "demo-distill" / "recipe.yaml"
TEACHER_RECIPE = REPO / "recipes" / "demo-teacher-cpu" / "recipe.yaml"
PRETRAINED_TEACHER = REPO / "pretrained" / "demo-teacher"

# Held-out target language → (demo voice, teacher languages its embedding starts from, why).
TARGETS = {
    "cat": ("festival-ona", ["spa", "ita"], "Romance neighbours"),
    "mar": ("festival-nsk-mar", ["hin"], "Indo-Aryan neighbour in the same script"),
    "swa": ("espeak-sw", [], "phone-inventory overlap with every teacher language"),
}
MODES = ("distill", "finetune", "scratch")


@dataclass
class DemoPlan:
    languages: list[str]
    minutes: float  # target training audio per language (seeded subset)
    corpus_minutes: float  # train audio rendered per voice (a little more than ``minutes``)
    adapt_steps: int  # teacher adaptation before distillation
    steps: int  # optimizer steps of every student run
    text_sentences: int  # target text without audio the teacher reads for distill
    per_language: int  # held-out test sentences evaluated per language
    rtf_runs: int = 3
    max_utterances: int | None = None  # per voice, train + test (quick runs)
    teacher_steps: int = 1500  # --train-teacher only
    teacher_minutes_per_voice: float = 2.0


PLANS = {
    "full": DemoPlan(["cat", "mar", "swa"], minutes=15, corpus_minutes=16, adapt_steps=40, steps=80,
                     text_sentences=200, per_language=6),
    "quick": DemoPlan(["cat"], minutes=2, corpus_minutes=2.2, adapt_steps=3, steps=12, text_sentences=12,
                      per_language=2, rtf_runs=1, max_utterances=40, teacher_steps=20,
                      teacher_minutes_per_voice=0.3),
}


@dataclass
class DemoResult:
    out: Path
    rows: list[dict] = field(default_factory=list)  # one per language × system
    reports: dict[str, Path] = field(default_factory=dict)
    summary: Path | None = None
    index: Path | None = None
    seconds: float = 0.0


class _State:
    """``OUT/state.json``: stage key → fingerprint of what it was run with; a matching entry is skipped."""

    def __init__(self, out: Path):
        self.path = out / "state.json"
        self.data = json.loads(self.path.read_text()) if self.path.is_file() else {}

    @staticmethod
    def fingerprint(obj) -> str:
        return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]

    def done(self, key: str, obj) -> bool:
        return self.data.get(key) == self.fingerprint(obj)

    def mark(self, key: str, obj) -> None:
        self.data[key] = self.fingerprint(obj)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1) + "\n")
        tmp.replace(self.path)


class _Stages:
    """Numbered stage headers with the elapsed time, so a long run shows where it is."""

    def __init__(self, total: int):
        self.total, self.k, self.t0 = total, 0, time.monotonic()

    def __call__(self, title: str) -> None:
        self.k += 1
        print(f"\n== [{self.k}/{self.total}] {title}  (elapsed {self.elapsed()}) ==", flush=True)

    def elapsed(self) -> str:
        s = int(time.monotonic() - self.t0)
        return f"{s // 60}:{s % 60:02d}"


def _distill_recipe(lang: str, plan: DemoPlan, out: Path, teacher: Path):
    """recipes/demo-distill with this language's folders, init languages and the plan's steps."""
    from multikd.distill.recipe import load_distill_recipe

    r = load_distill_recipe(DISTILL_RECIPE)
    r.name = f"demo-{lang}"
    r.data.card = str((out / "corpus").resolve())
    r.data.languages = [lang]
    r.data.prepared = [str((out / "prepared" / f"{lang}-train").resolve())]
    r.train.max_steps, r.train.max_minutes = plan.steps, None
    r.train.warmup_steps = min(r.train.warmup_steps, max(1, plan.steps // 3))
    r.train.save_every = max(1, min(r.train.save_every, plan.steps // 3))
    d = r.distill
    d.teacher = str(teacher.resolve())
    d.init_languages = list(TARGETS[lang][1])
    d.source_prepared = []  # inventories come from the teacher's inventories.json
    d.text_file = str((out / "text" / f"{lang}-train.txt").resolve())
    d.max_text_sentences = plan.text_sentences
    d.adapt_steps = plan.adapt_steps
    return r


def _render(out: Path, voices: list[str], minutes: float, max_utterances: int | None, progress: bool):
    from multikd.data.demo.render import build_demo_corpus

    report = build_demo_corpus(out / "corpus", voice_ids=voices, minutes_per_voice=minutes,
                               max_utterances=max_utterances, progress=progress)
    print(f"corpus: {report.rendered} utterances rendered now, {report.skipped_existing} there already, "
          f"{report.failed} failed; {report.minutes_in_corpus:.1f} min in {out / 'corpus'}")
    for f in report.failures:
        print(f"  failed: {f['id']} ({f['voice']}): {f['reason']}")
    return report


def _prepare(out: Path, name: str, languages: list[str], split: str, minutes: float | None,
             progress: bool) -> Path:
    from multikd.data.prepare import prepare
    from multikd.recipe import DataSelection

    folder = out / "prepared" / name
    sel = DataSelection(card=str(out / "corpus"), split=split, languages=languages, minutes=minutes, seed=0)
    result = prepare(out / "corpus", folder, sel, None, progress=progress)
    print(result.summary())
    return folder


def _train_teacher(out: Path, plan: DemoPlan, progress: bool) -> Path:
    """Render the teacher voices, prepare them and train a teacher with recipes/demo-teacher-cpu."""
    from multikd.data.demo.render import load_voices
    from multikd.recipe import load_recipe
    from multikd.train.loop import train

    voices = [v for v, voice in load_voices().items() if voice.role == "teacher" and voice.options["default"]]
    _render(out, voices, plan.teacher_minutes_per_voice, plan.max_utterances, progress)
    teacher_langs = sorted({load_voices()[v].language for v in voices})
    _prepare(out, "teacher-train", teacher_langs, "train", None, progress)
    recipe = load_recipe(TEACHER_RECIPE)
    recipe.name = "demo-teacher"
    recipe.data.prepared = [str((out / "prepared" / "teacher-train").resolve())]
    recipe.train.max_steps, recipe.train.max_minutes = plan.teacher_steps, None
    recipe.train.save_every = max(1, min(recipe.train.save_every, plan.teacher_steps))
    recipe.train.sample_every = 0
    result = train(recipe, out / "teacher", progress=progress)
    return result.model_dir


def run_demo(out: str | Path = "out/demo", *, variant: str = "full", train_teacher: bool = False,
             teacher: str | Path | None = None, languages: list[str] | None = None,
             progress: bool = True) -> DemoResult:
    """Run (or resume) the demo in ``out``; see the module docstring. Returns rows for the summary table."""
    import torch

    from multikd.distill import setup
    from multikd.distill.trainer import distill
    from multikd.report import build_report, evaluate_systems
    from multikd.report.run import System

    if variant not in PLANS:
        raise ConfigError(f"unknown demo variant {variant!r}", fix=f"use one of {', '.join(PLANS)}")
    plan = copy.deepcopy(PLANS[variant])
    if languages:
        unknown = [x for x in languages if x not in TARGETS]
        if unknown:
            raise ConfigError(f"{unknown} are not demo target languages", where="--languages",
                              fix=f"choose from {', '.join(TARGETS)}")
        plan = replace(plan, languages=list(languages))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = _State(out)
    t0 = time.monotonic()
    stage = _Stages(5)
    print(f"multikd demo ({variant}): languages {', '.join(plan.languages)}; {plan.minutes:g} min of target "
          f"speech each; teacher adaptation {plan.adapt_steps} steps, students {plan.steps} steps; output {out}\n"
          "All speech here is SYNTHETIC (espeak-ng / festival), rendered offline: the numbers show the pipeline "
          "working, not quality on human speech.")

    stage("corpus: rendering the held-out target voices (resumable)")
    _render(out, [TARGETS[x][0] for x in plan.languages], plan.corpus_minutes, plan.max_utterances, progress)

    stage("teacher")
    if train_teacher:
        teacher_dir = _train_teacher(out, plan, progress)
    else:
        teacher_dir = Path(teacher) if teacher else PRETRAINED_TEACHER
        if not (teacher_dir / "config.json").is_file():
            raise ConfigError("no demo teacher model here", where=str(teacher_dir),
                              fix="run from a clone of the repository (pretrained/demo-teacher ships in it), "
                                  "or pass --train-teacher")
    print(f"teacher: {teacher_dir}")

    stage("prepare: target training sets, held-out test sentences, text without audio")
    from multikd.data.demo.texts import write_sentences

    for lang in plan.languages:
        key = {"lang": lang, "minutes": plan.minutes, "corpus": plan.corpus_minutes, "max": plan.max_utterances}
        if state.done(f"prepare/{lang}", key):
            print(f"{lang}: prepared already")
            continue
        train_dir = _prepare(out, f"{lang}-train", [lang], "train", plan.minutes, progress)
        _prepare(out, f"{lang}-test", [lang], "test", None, progress)
        n, left = write_sentences(lang, "train", out / "text" / f"{lang}-train.txt", [train_dir])
        print(f"{lang}: {n} sentences of text without audio ({left} recorded ones left out)")
        state.mark(f"prepare/{lang}", key)

    stage("train: per language, distill (teacher adapted first), finetune, scratch")
    systems_by_lang: dict[str, list[System]] = {}
    for lang in plan.languages:
        recipe = _distill_recipe(lang, plan, out, teacher_dir)
        lang_runs = out / "runs" / lang
        systems = []
        for mode in MODES:
            run_dir = lang_runs / mode
            key = {"plan": asdict(plan), "teacher": str(teacher_dir), "mode": mode}
            if state.done(f"train/{lang}/{mode}", key) and (run_dir / "model" / "config.json").is_file():
                print(f"{lang} {mode}: trained already")
            else:
                print(f"{lang} {mode}: {plan.steps} steps", flush=True)
                distill(copy.deepcopy(recipe), run_dir, mode=mode, minutes=plan.minutes, progress=progress)
                state.mark(f"train/{lang}/{mode}", key)
            systems.append(System(mode, run_dir / "model"))
        adapted = lang_runs / "distill" / "teacher-adapted" / "model"
        if (adapted / "config.json").is_file():
            systems.append(System("teacher-adapted", adapted))
        zero = lang_runs / "teacher-zero-shot"
        if not (zero / "model" / "config.json").is_file() or not state.done(f"zero/{lang}", str(teacher_dir)):
            setup.zero_shot_teacher(recipe, plan.minutes, zero)
            state.mark(f"zero/{lang}", str(teacher_dir))
        systems.append(System("teacher-zero-shot", zero / "model"))
        systems_by_lang[lang] = systems

    stage("evaluate: every system on held-out sentences (MCD, F0, V/UV, duration; cost)")
    result = DemoResult(out)
    torch.set_num_threads(1)  # RTF is reported for one thread
    for lang, systems in systems_by_lang.items():
        ev = out / "eval" / lang
        res = evaluate_systems(systems, out / "prepared" / f"{lang}-test", ev, languages=[lang],
                               per_language=plan.per_language, rtf_runs=plan.rtf_runs, progress=progress)
        paths = build_report(res, ev)
        result.reports[lang] = paths["index"]
        result.rows += _rows(res, lang)
    result.summary, result.index = _write_summary(out, result, plan, variant, teacher_dir)
    result.seconds = time.monotonic() - t0
    print(f"\n{summary_table(result.rows)}\n")
    print(f"done in {stage.elapsed()}. Report: {result.index}\nsummary: {result.summary}")
    return result


def _rows(res: dict, lang: str) -> list[dict]:
    from multikd.report.tables import cell_stat

    rows = []
    for name, sysres in res["systems"].items():
        cost = sysres.get("cost") or {}
        row = {"language": lang, "system": name, "n": (sysres["languages"].get(lang) or {}).get("n", 0),
               "parameters": cost.get("parameters"), "rtf": cost.get("rtf_cpu_1thread")}
        for key in ("mcd_db", "f0_rmse_cents", "vuv_error", "duration_log_error"):
            row[key] = cell_stat(res, name, lang, key)
        rows.append(row)
    return rows


def summary_table(rows: list[dict]) -> str:
    """Language × system: MCD, F0, V/UV, duration (mean ± 95 % CI half-width), parameters, CPU RTF."""
    from multikd.bench import table
    from multikd.report.tables import fmt_ci

    body = [[r["language"], r["system"], r["n"], fmt_ci(r["mcd_db"]), fmt_ci(r["f0_rmse_cents"], 0),
             fmt_ci(r["vuv_error"]), fmt_ci(r["duration_log_error"]),
             f"{r['parameters'] / 1e6:.2f} M" if r["parameters"] else "-",
             f"{r['rtf']:.3f}" if r["rtf"] is not None else "-"] for r in rows]
    return table(body, ["lang", "system", "n", "MCD dB ↓", "F0 RMSE cents ↓", "V/UV err ↓", "|log dur ratio| ↓",
                        "params", "CPU RTF (1 thr) ↓"])


def _write_summary(out: Path, result: DemoResult, plan: DemoPlan, variant: str, teacher: Path):
    import html

    import multikd

    head = (f"# multikd demo ({variant})\n\n"
            f"{time.strftime('%Y-%m-%d %H:%M %Z')}; multikd {multikd.__version__}; teacher `{teacher}`.\n"
            f"Per language: {plan.minutes:g} min of target speech, teacher adaptation {plan.adapt_steps} steps, "
            f"{plan.steps} student steps per mode (same data, steps and seed), {plan.per_language} held-out test "
            "sentences, Griffin-Lim vocoder.\n\n"
            "**All speech is synthetic** (espeak-ng / festival voices rendered offline): these numbers show the "
            "pipeline working on machine speech after a few CPU minutes, not quality on human speech. "
            "See recipes/demo-distill/README.md for the longer experiment.\n\n")
    md = head + summary_table(result.rows) + "\n\nPer-language reports:\n" + "".join(
        f"- {lang}: eval/{lang}/index.html\n" for lang in result.reports)
    (out / "summary.md").write_text(md, encoding="utf-8")
    links = "".join(f'<li><a href="eval/{lang}/index.html">{lang}</a></li>' for lang in result.reports)
    page = (f"<!doctype html><meta charset='utf-8'><title>multikd demo</title>"
            f"<body style='font-family:sans-serif;max-width:70em;margin:2em auto'>"
            f"<h1>multikd demo ({html.escape(variant)})</h1>"
            "<p style='background:#fee;padding:.5em'><b>Synthetic speech only</b> (espeak-ng / festival, rendered "
            "offline): the pipeline working, not quality on human speech.</p>"
            f"<pre>{html.escape(summary_table(result.rows))}</pre><h2>Per-language reports (audio, plots)</h2>"
            f"<ul>{links}</ul></body>")
    (out / "index.html").write_text(page, encoding="utf-8")
    return out / "summary.md", out / "index.html"
