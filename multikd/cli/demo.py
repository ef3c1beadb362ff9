"""`multikd demo`: the offline demo end to end — corpus, teacher, students for cat/mar/swa, evaluation."""
from __future__ import annotations

COMMAND = "demo"
HELP = "run the whole pipeline offline on synthetic demo speech: students for cat, mar, swa + report"


def add_arguments(p):
    p.add_argument("--quick", action="store_true",
                   help="one language (cat), 2 minutes of data, a few steps: a smoke run of every stage "
                   "(what CI runs)")
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo); re-running resumes")
    p.add_argument("--languages", help="comma-separated subset of cat,mar,swa")
    p.add_argument("--train-teacher", action="store_true",
                   help="train the teacher here instead of using pretrained/demo-teacher (long on a CPU)")
    p.add_argument("--teacher", help="another teacher model folder (default pretrained/demo-teacher)")
    p.add_argument("--threads", type=int, default=2, help="torch threads for training (default 2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (stage headers and logs only)")


def run(args) -> int:
    import logging
    import os

    import torch
    from transformers.utils import logging as hf_logging

    from multikd.demo import run_demo

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    hf_logging.disable_progress_bar()
    logging.getLogger("accelerate").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    langs = [x.strip() for x in args.languages.split(",") if x.strip()] if args.languages else None
    run_demo(args.out, variant="quick" if args.quick else "full", train_teacher=args.train_teacher,
             teacher=args.teacher, languages=langs, progress=not args.no_progress)
    return 0
