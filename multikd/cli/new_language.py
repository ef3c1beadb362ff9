"""`multikd new-language`: scaffold the recipe, data card, test sentences and lexicon folder of a new language."""
from __future__ import annotations

COMMAND = "new-language"
HELP = "scaffold a language contribution: recipe + README, data card, test sentences, lexicon folder"


def add_arguments(p):
    p.add_argument("iso", metavar="ISO", help="ISO 639-3 or ISO 639-1 code (e.g. swa or sw)")
    p.add_argument("--name", help="the language's English name (default: from the ISO 639-3 table)")
    p.add_argument("--script", help="ISO 15924 script code, e.g. Latn (default: what epitran writes the language in)")
    src = p.add_argument_group("corpus (one of)")
    src.add_argument("--hf-dataset", metavar="ID", help="a Hugging Face hub dataset id, e.g. google/fleurs")
    src.add_argument("--from-folder", metavar="DIR", help="a local folder of recordings and transcripts")
    hub = p.add_argument_group("hub dataset options")
    hub.add_argument("--config", help="the dataset's config (subset) name")
    hub.add_argument("--split", default="train", help="training split (default: train)")
    hub.add_argument("--test-split", default="test", help="held-out split (default: test)")
    hub.add_argument("--revision", help="hub branch, tag or commit (e.g. refs/convert/parquet)")
    hub.add_argument("--data-dir", help="sub-folder of the hub repository (e.g. one FLEURS language)")
    cols = p.add_argument_group("columns (hub datasets; for a folder, names that differ from the defaults)")
    cols.add_argument("--audio-column", default="audio", help="column holding the recordings (default: audio)")
    cols.add_argument("--text-column",
                      help="column holding the transcripts (default: text; in a folder: transcription or text)")
    cols.add_argument("--speaker-column", help="column holding speaker ids (default: none, one speaker)")
    p.add_argument("--write-metadata", action="store_true",
                   help="with --from-folder: write DIR/metadata.csv from <name>.wav + <name>.txt pairs "
                        "(every 10th recording held out as test)")
    p.add_argument("--license", help="the corpus' licence id (e.g. cc-by-4.0); without it the card's licence "
                                     "stays empty and `multikd check` reports it")
    p.add_argument("--root", default=".", help="repository folder to write into (default: the current folder)")
    p.add_argument("--force", action="store_true", help="overwrite an existing recipe and card")


def run(args) -> int:
    from pathlib import Path

    from multikd.errors import ConfigError
    from multikd.scaffold import hub_corpus, local_corpus, new_language

    if bool(args.hf_dataset) == bool(args.from_folder):
        raise ConfigError("give the corpus: either --hf-dataset ID or --from-folder DIR",
                          fix="e.g. --hf-dataset google/fleurs --config ca_es, or --from-folder ~/recordings")
    if args.from_folder:
        plan, _ = local_corpus(Path(args.from_folder), text=args.text_column, speaker=args.speaker_column,
                               write_metadata=args.write_metadata)
    else:
        plan = hub_corpus(args.hf_dataset, config=args.config, split=args.split, test_split=args.test_split,
                          audio=args.audio_column, text=args.text_column or "text", speaker=args.speaker_column,
                          revision=args.revision, data_dir=args.data_dir)
    root = Path(args.root)
    result = new_language(args.iso, plan, root=root, name=args.name, script=args.script, licence=args.license,
                          force=args.force, command=_as_command(args))
    root = root.absolute()
    print(f"wrote under {root}:")
    for path in result.written:
        print(f"  {path.relative_to(root)}")
    if result.reused_lexicon:
        print(f"the language exists: using its front end {result.reused_lexicon}")
    for w in result.warnings:
        print(f"warning: {w}")
    todo = ([] if args.license else ["the card's licence"]) + ["its consent, recording conditions and prose"] + \
        ([] if result.reused_lexicon else ["the lexicon's licence and sentences"]) + ["real test sentences"]
    print(f"\nfill in what the files mark REQUIRED or 'fill in' ({', '.join(todo)}), then run, from the "
          "repository root:\n")
    for cmd in result.commands:
        print(f"  {cmd}")
    return 0


def _as_command(args) -> str:
    """The command line that made the files (recorded in them), without --root/--force."""
    import shlex

    opts = [("--name", args.name), ("--script", args.script), ("--hf-dataset", args.hf_dataset),
            ("--config", args.config), ("--revision", args.revision), ("--data-dir", args.data_dir),
            ("--from-folder", args.from_folder), ("--text-column", args.text_column),
            ("--speaker-column", args.speaker_column), ("--license", args.license)]
    if args.hf_dataset:
        opts += [("--split", args.split if args.split != "train" else None),
                 ("--test-split", args.test_split if args.test_split != "test" else None),
                 ("--audio-column", args.audio_column if args.audio_column != "audio" else None)]
    words = ["multikd", COMMAND, args.iso] + [w for k, v in opts if v for w in (k, v)]
    return " ".join(shlex.quote(w) for w in words)
