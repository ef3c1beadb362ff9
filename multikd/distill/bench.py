"""`multikd bench distill`: distill vs finetune vs scratch vs the teacher, for one target language and budget.

For a distillation recipe and N minutes of target data, the three student runs (identical data, steps and
seed; ``runs/<recipe name>/<mode>-<N>min``) are read if finished, or trained first with ``--train``. Each
system, plus the teacher extended to the new language without any target training (its zero-shot voice)
and, when the distill run adapted it (``distill.adapt_steps``), the adapted teacher KD learnt from, speaks up to ``--per-language`` held-out test sentences of a prepared
test split; scores are MCD (dB, DTW), log-F0 RMSE (cents), V/UV error and |log duration ratio| against the
recordings, with 95 % CIs, next to parameter counts and the CPU real-time factor of the acoustic model +
Griffin-Lim on one thread.
"""
from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from multikd.bench import register_bench, table

log = logging.getLogger(__name__)
MODES = ("distill", "finetune", "scratch")


def _add(p):
    p.add_argument("--recipe", required=True, help="a recipe with a distill: section")
    p.add_argument("--minutes", type=float, required=True, help="target-data budget of the runs compared")
    p.add_argument("--test", required=True, help="prepared folder with the target language's test split")
    p.add_argument("--per-language", type=int, default=8, help="test utterances")
    p.add_argument("--train", action="store_true", help="train runs that are missing (long on a CPU)")
    p.add_argument("--out", help="wavs, rows and summary.json go here")


@register_bench("distill", "distill vs finetune vs scratch vs teacher: MCD/F0/duration, parameters, CPU RTF",
                add_arguments=_add)
def run(args) -> int:
    import datasets
    import soundfile as sf

    from multikd.distill.recipe import load_distill_recipe
    from multikd.distill.setup import zero_shot_teacher
    from multikd.distill.trainer import distill
    from multikd.evaluate import evaluate_pairs, measure_rtf, model_cost
    from multikd.synthesis import Synthesizer

    recipe = load_distill_recipe(args.recipe)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="multikd-bench-distill-"))
    out.mkdir(parents=True, exist_ok=True)
    systems: dict[str, Path] = {}
    for mode in MODES:
        run_dir = Path("runs") / recipe.name / f"{mode}-{args.minutes:g}min"
        if not (run_dir / "model" / "config.json").is_file():
            if not args.train:
                log.warning("%s: no finished run in %s (pass --train to train it)", mode, run_dir)
                continue
            distill(load_distill_recipe(args.recipe), run_dir, mode=mode, minutes=args.minutes)
        systems[mode] = run_dir / "model"
    adapted = Path("runs") / recipe.name / f"distill-{args.minutes:g}min" / "teacher-adapted" / "model"
    if (adapted / "config.json").is_file():  # the teacher the distill student learnt from
        systems["teacher (adapted)"] = adapted
    systems["teacher (zero-shot)"] = zero_shot_teacher(recipe, args.minutes, out / "teacher-zero-shot")

    test_dir = Path(args.test)
    ds = datasets.load_from_disk(str(test_dir / "dataset")).select_columns(["id", "language", "speaker", "text", "wav", "split"])
    if "test" in set(ds["split"]):  # a folder holding several splits: only its held-out sentences
        ds = ds.select([i for i, s in enumerate(ds["split"]) if s == "test"])
    results, rows_out = [], []
    for name, model_dir in systems.items():
        synth = Synthesizer(model_dir)
        chosen = [r for r in ds if r["language"] in synth.languages and r["speaker"] in synth.speakers]
        chosen = chosen[:args.per_language]
        if not chosen:
            log.warning("%s: no test utterance of a language and speaker it knows", name)
            continue
        pairs = []
        for row in chosen:
            wav, sr = synth.speak(row["text"], row["language"], speaker=row["speaker"])
            hyp = out / name.replace(" ", "").replace("(", "-").replace(")", "") / f"{row['id']}.wav"
            hyp.parent.mkdir(parents=True, exist_ok=True)
            sf.write(hyp, wav, sr)
            pairs.append((hyp, test_dir / row["wav"], row["text"], row["language"]))
        rows, summary = evaluate_pairs(pairs, ["mcd", "f0_rmse", "vuv_error", "duration"], progress=False)
        first = chosen[0]
        rtf = measure_rtf(lambda: synth.speak(first["text"], first["language"], speaker=first["speaker"]),
                          lambda res: len(res[0]) / res[1], n=3)
        v = summary["values"]
        results.append({"system": name, "n": len(pairs), "parameters": model_cost(model_dir)["parameters"],
                        "rtf": rtf["rtf"], **{k: v.get(k) for k in ("mcd_db", "f0_rmse_cents", "vuv_error",
                                                                      "duration_log_error")}})
        rows_out += [{**r, "system": name} for r in rows]

    def ci(d):
        return f"{d['mean']:.2f} ± {(d['ci_high'] - d['ci_low']) / 2:.2f}" if d and d.get("n") else "-"

    print(f"\n{recipe.name}: {args.minutes:g} min of target data; test sentences from {test_dir}; Griffin-Lim\n")
    print(table([[r["system"], r["n"], f"{r['parameters'] / 1e6:.2f} M", f"{r['rtf']:.4f}", ci(r["mcd_db"]),
                  ci(r["f0_rmse_cents"]), ci(r["vuv_error"]), ci(r["duration_log_error"])] for r in results],
                ["system", "n", "params", "CPU RTF (1 thr)", "MCD dB", "F0 RMSE cents", "V/UV err", "|log dur ratio|"]))
    (out / "summary.json").write_text(json.dumps(results, indent=1, default=str))
    (out / "rows.json").write_text(json.dumps(rows_out, indent=1, default=str))
    print(f"\nwavs and scores: {out}")
    return 0
