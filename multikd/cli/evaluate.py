"""`multikd evaluate`: systems × languages × metrics on held-out sentences → tables, plots, audio, index.html."""
from __future__ import annotations

COMMAND = "evaluate"
HELP = "evaluate systems on held-out test sentences of several languages; write metrics, plots and an HTML report"

_CORE = "mcd,f0_rmse,vuv_error,duration"


def add_arguments(p):
    p.add_argument("--systems", nargs="+", metavar="NAME=MODEL_DIR",
                   help="systems to compare, e.g. teacher=runs/t/model distill-15min=runs/d15/model "
                   "(names ending in -<N>min give a data-efficiency curve)")
    p.add_argument("--lang", action="append", metavar="ISO",
                   help="language to evaluate (repeatable); with --matrix the default is every test language")
    p.add_argument("--test", help="prepared folder of held-out sentences (multikd prepare --split test)")
    p.add_argument("--per-language", type=int, default=10, metavar="N", help="test sentences per language (first N)")
    p.add_argument("--speaker-map", nargs="+", metavar="[SYSTEM:]REF=SPEAKER",
                   help="speak a reference speaker's sentences with this model speaker (default: the same "
                   "speaker when the model knows it, else its first speaker of the language)")
    p.add_argument("--metrics", default=_CORE,
                   help=f"comma-separated metric names (default {_CORE}; also dnsmos, speaker_sim, wer, pitch)")
    p.add_argument("--matrix", action="store_true",
                   help="cross-lingual matrix: print systems × languages of --matrix-metric (default: all test languages)")
    p.add_argument("--matrix-metric", default="mcd_db", help="metric key of the matrix (default mcd_db)")
    p.add_argument("--vocoder", default="griffinlim", help="registered vocoder name or a trained vocoder's folder")
    p.add_argument("--no-cost", action="store_true", help="skip parameters / size / CPU real-time factor")
    p.add_argument("--rtf-runs", type=int, default=3, help="timed runs for the real-time factor (median)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads for synthesis (1: a busy second core slows multi-threaded torch badly)")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild summary.md, plots and index.html from OUT/metrics.json without synthesising")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-o", "--out", required=True, help="output folder")


def run(args) -> int:
    from pathlib import Path

    import torch
    from transformers.utils import logging as hf_logging

    from multikd.bench import table
    from multikd.errors import ConfigError
    from multikd.report import build_report, evaluate_systems, load_result, parse_speaker_map, parse_systems
    from multikd.report.tables import cost_table, language_table, matrix_table, notes

    hf_logging.disable_progress_bar()  # per-tensor loading bars for every system; ours says what happens
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    if args.report_only:
        result = load_result(out)
    else:
        if not args.systems:
            raise ConfigError("no systems given", where="--systems", fix="e.g. --systems teacher=runs/t/model")
        if not args.test:
            raise ConfigError("no test folder given", where="--test",
                              fix="give a prepared folder of held-out sentences (multikd prepare --split test)")
        if not args.lang and not args.matrix:
            raise ConfigError("no language given", where="--lang",
                              fix="add --lang ISO (repeatable), or --matrix for every language of the test folder")
        metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
        result = evaluate_systems(parse_systems(args.systems), args.test, out, languages=args.lang,
                                  metrics=metrics, per_language=args.per_language,
                                  speaker_map=parse_speaker_map(args.speaker_map), vocoder=args.vocoder,
                                  cost=not args.no_cost, rtf_runs=args.rtf_runs, progress=not args.no_progress)
    paths = build_report(result, out, matrix_key=args.matrix_metric)

    for caveat in notes(result):
        print(f"note: {caveat}")
    if args.matrix:
        header, rows = matrix_table(result, args.matrix_metric)
        print(f"\ncross-lingual matrix, {args.matrix_metric} mean ± 95 % CI half-width:\n")
        print(table(rows, header))
    else:
        for lang in result["languages"]:
            header, rows = language_table(result, lang)
            print(f"\n{lang}:\n")
            print(table(rows, header))
    if not args.no_cost and not args.report_only:
        header, rows = cost_table(result)
        print("\ncost:\n")
        print(table(rows, header))
    print(f"\nreport: {paths['index']}\nsummary: {paths['summary']}\nper sentence: {out / 'metrics.csv'}")
    return 0
