"""`multikd align`: export a trained model's alignments (phone durations) of a prepared corpus."""
from __future__ import annotations

COMMAND = "align"
HELP = "durations in frames for every utterance of a prepared corpus, from a model's aligner (JSONL + dataset)"


def add_arguments(p):
    p.add_argument("--model", required=True, help="exported model folder (RUN/model)")
    p.add_argument("--prepared", required=True, help="prepared corpus folder (output of `multikd prepare`)")
    p.add_argument("-o", "--out", required=True, help="output folder: durations.jsonl and dataset/")
    p.add_argument("--split", action="append", dest="splits", metavar="SPLIT",
                   help="only this split (repeatable; '' = rows without a split); default: all rows")
    p.add_argument("--batch-frames", type=int, default=8000, help="padded mel frames per batch")
    p.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    import json
    from pathlib import Path

    import datasets as hfd
    import numpy as np
    from transformers.utils import logging as hf_logging

    from multikd.train.align import align_corpus

    hf_logging.disable_progress_bar()
    hfd.disable_progress_bars()
    rows = align_corpus(args.model, args.prepared, tuple(args.splits) if args.splits else None,
                        batch_frames=args.batch_frames, progress=not args.no_progress)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "durations.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    hfd.Dataset.from_list(rows).save_to_disk(str(out / "dataset"))
    conf = np.array([r["confidence"] for r in rows])
    print(f"aligned {len(rows)} utterances → {out}; confidence median {np.median(conf):.3f}, "
          f"{(conf < 0.5).sum()} below 0.5")
    return 0
