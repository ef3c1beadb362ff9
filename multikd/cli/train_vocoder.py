"""`multikd train-vocoder`: train (or resume) a neural vocoder, or distil a small one from a trained one."""
from __future__ import annotations

COMMAND = "train-vocoder"
HELP = "train a Vocos-style vocoder on prepared wavs (resumable); --distill-from RUN distils a small one"


def add_arguments(p):
    p.add_argument("recipe", metavar="RECIPE", help="vocoder recipe.yaml (data.prepared, vocoder, train)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field, e.g. --set vocoder.size=small (repeatable)")
    p.add_argument("--run-dir", help="run folder (default: runs/<recipe name>/vocoder); an existing run resumes")
    p.add_argument("--distill-from", metavar="DIR",
                   help="a trained vocoder's run folder (or model/): distil from it (= --set vocoder.distill_from=DIR)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")


def run(args) -> int:
    import logging
    import os
    from pathlib import Path

    from transformers.utils import logging as hf_logging

    from multikd.vocoder.train import load_vocoder_recipe, train_vocoder

    hf_logging.disable_progress_bar()
    logging.getLogger("accelerate").setLevel(logging.WARNING)

    recipe = load_vocoder_recipe(args.recipe, args.overrides)
    if args.distill_from:
        # A command-line path is relative to the working directory, not to the recipe.
        recipe.vocoder.distill_from = str(Path(args.distill_from).resolve())
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / recipe.name / "vocoder"
    result = train_vocoder(recipe, run_dir, progress=not args.no_progress)
    if os.environ.get("RANK", "0") == "0":
        print(f"step {result.step} (stopped by {result.stopped_by}); vocoder: {result.model_dir}")
    return 0
