"""`multikd distill`: a target-language student — distilled, fine-tuned, or trained from scratch."""
from __future__ import annotations

COMMAND = "distill"
HELP = "train a target-language student from the teacher (modes: distill, finetune, scratch; adapt)"


def add_arguments(p):
    p.add_argument("recipe", metavar="RECIPE", help="recipe.yaml with data (target folders), model (student), "
                   "train and distill sections")
    p.add_argument("--mode", choices=("distill", "finetune", "scratch", "adapt"),
                   help="overrides distill.mode; all modes take the same data, steps and seed (adapt: "
                   "fine-tune the extended teacher itself; distill runs it first when distill.adapt_steps > 0)")
    p.add_argument("--minutes", type=float, help="train on the seeded nested subset of this many minutes "
                   "per language of the prepared target data (default: all of it)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field, e.g. --set distill.weights.soft=0 (repeatable)")
    p.add_argument("--run-dir", help="run folder (default: runs/<recipe name>/<mode>[-<N>min]); an existing run resumes")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")


def run(args) -> int:
    import logging
    from pathlib import Path

    from transformers.utils import logging as hf_logging

    from multikd.distill.recipe import load_distill_recipe
    from multikd.distill.trainer import distill

    hf_logging.disable_progress_bar()
    logging.getLogger("accelerate").setLevel(logging.WARNING)
    recipe = load_distill_recipe(args.recipe, args.overrides)
    mode = args.mode or recipe.distill.mode
    suffix = f"-{args.minutes:g}min" if args.minutes else ""
    run_dir = Path(args.run_dir) if args.run_dir else Path("runs") / recipe.name / f"{mode}{suffix}"
    result = distill(recipe, run_dir, mode=mode, minutes=args.minutes, progress=not args.no_progress)
    print(f"{mode}: step {result.step} (stopped by {result.stopped_by}); model: {result.model_dir}")
    return 0
