"""`multikd pack`: prepared corpora → packed folders that training reads without `datasets`."""
from __future__ import annotations

COMMAND = "pack"
HELP = "pack prepared corpora into one safetensors file each (uint8 mel) for training where `datasets` is missing"


def add_arguments(p):
    p.add_argument("prepared", metavar="PREPARED", nargs="+", help="folders written by `multikd prepare`")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder (one input), or parent of one folder per input (several)")
    p.add_argument("--max-megabytes", type=float, default=None, metavar="MB",
                   help="bound each packed folder's arrays; the longest utterances are dropped to fit")


def run(args) -> int:
    from multikd.train.packed import pack_prepared

    for s in pack_prepared(args.prepared, args.out, max_megabytes=args.max_megabytes):
        q = s["mel_quantisation"]
        print(f"{s['out']}: {s['utterances']} utterances, {s['minutes']} min, {s['frames']} frames; "
              f"dropped {s['dropped_utterances']} utterances ({s['dropped_minutes']} min); "
              f"mel step {q['scale']:.4f}, max error {q['max_abs_error']:.4f} ln units")
    return 0
