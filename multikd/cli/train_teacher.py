"""`multikd train-teacher`: train (or resume) the multilingual teacher of a recipe."""
from __future__ import annotations

COMMAND = "train-teacher"
HELP = "train the teacher acoustic model of a recipe (resumes automatically from the run's last checkpoint)"


def add_arguments(p):
    p.add_argument("recipe", metavar="RECIPE", help="recipe.yaml with data.prepared, model and train sections")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field, e.g. --set train.max_steps=200 (repeatable)")
    p.add_argument("--run-dir", help="run folder (default: runs/<recipe name>/teacher); an existing run resumes")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")


def run(args) -> int:
    import logging
    import os
    from pathlib import Path

    from transformers.utils import logging as hf_logging

    from multikd.recipe import load_recipe
    from multikd.train.loop import train

    hf_logging.disable_progress_bar()  # save_pretrained's shard bar would interleave with the step bar
    logging.getLogger("accelerate").setLevel(logging.WARNING)  # five INFO lines per checkpoint; ours says one

    recipe = load_recipe(args.recipe, args.overrides)
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / recipe.name / "teacher"
    result = train(recipe, run_dir, progress=not args.no_progress)
    if os.environ.get("RANK", "0") == "0":  # under torchrun/accelerate launch every process gets here
        print(f"step {result.step} (stopped by {result.stopped_by}); model: {result.model_dir}")
    return 0
