"""`multikd prepare`: load a corpus through its data card (or a recipe) and write prepared features."""
from __future__ import annotations

COMMAND = "prepare"
HELP = "check, clean and featurise a corpus (card or recipe) into the prepared format; every file accounted for"


def add_arguments(p):
    p.add_argument("source", metavar="RECIPE_OR_CARD",
                   help="recipe.yaml (uses its data/audio sections), a data card .md, or a corpus folder with README.md")
    p.add_argument("--out", help="output folder (default for a recipe: runs/<recipe name>/prepared)")
    p.add_argument("--split", help="the card's split to load")
    p.add_argument("--languages", help="comma-separated ISO 639-3 codes to keep")
    p.add_argument("--speakers", help="comma-separated speaker names to keep")
    p.add_argument("--minutes", type=float, help="a fixed, seeded subset of this many minutes per language")
    p.add_argument("--seed", type=int, help="seed of the minutes subset (default 0)")
    p.add_argument("--allow-unlicensed", action="store_true",
                   help="prepare a corpus whose card names no licence (you take responsibility)")
    p.add_argument("--shard-size", type=int, default=200, help="utterances per resumable work unit")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field, e.g. --set audio.sample_rate=16000 (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")


def run(args) -> int:
    from pathlib import Path

    from multikd.audio.config import AudioConfig
    from multikd.config import apply_overrides, build
    from multikd.data.prepare import prepare
    from multikd.errors import ConfigError
    from multikd.recipe import DataSelection, load_any_recipe

    src = Path(args.source)
    if src.suffix in (".yaml", ".yml"):
        recipe = load_any_recipe(src, args.overrides)
        sel, audio = recipe.data, recipe.audio
        card = recipe.resolve(sel.card)
        out = Path(args.out) if args.out else Path("runs") / recipe.name / "prepared"
    else:
        data = apply_overrides({"data": {"card": str(src)}}, args.overrides)
        sel = build(DataSelection, data["data"], prefix="data.", where="command line")
        audio = AudioConfig.from_dict(data.get("audio"), where="command line")
        card = src
        if not args.out:
            raise ConfigError("--out is required when preparing a data card directly", fix="add --out DIR")
        out = Path(args.out)
    for name in ("split", "minutes", "seed"):
        if getattr(args, name) is not None:
            setattr(sel, name, getattr(args, name))
    if args.languages:
        sel.languages = [x.strip() for x in args.languages.split(",") if x.strip()]
    if args.speakers:
        sel.speakers = [x.strip() for x in args.speakers.split(",") if x.strip()]
    if args.allow_unlicensed:
        sel.allow_unlicensed = True
    result = prepare(card, out, sel, audio, shard_size=args.shard_size, progress=not args.no_progress)
    print(result.summary())
    print(f"details: {out / 'report.json'}, rejections: {out / 'rejected.tsv'}")
    return 0
