"""`multikd phones`: a language's phone inventory, what a symbol table lacks, and table building."""
from __future__ import annotations

import json
import sys
from collections import Counter

COMMAND = "phones"
HELP = "list a language's phones; report those a symbol table lacks with their nearest known phones"


def add_arguments(p):
    p.add_argument("--lang", action="append", default=[],
                   help="language (repeatable); its phones come from its test sentences and lexicon")
    p.add_argument("--prepared", action="append", default=[],
                   help="a prepared corpus folder (multikd prepare): count the phones of its utterances")
    p.add_argument("--text", action="append", default=[],
                   help="extra text file(s) in that language, one sentence per line (e.g. corpus text)")
    p.add_argument("--against", help="symbol table JSON to compare with (e.g. a teacher's symbols.json)")
    p.add_argument("--write", help="write a NEW symbol table with these languages' phones to this path")
    p.add_argument("--merge-into", help="append the unseen phones to a copy of --against saved here "
                                        "(existing ids never change)")
    p.add_argument("--json", action="store_true", help="machine-readable report")


def inventory(lang_keys: list[str], text_files: list[str]) -> tuple[Counter, int]:
    """Token counts over the languages' sentences, lexicon words and extra text. Returns (counts, failures)."""
    from multikd.errors import MultikdError
    from multikd.text import get_frontend
    from multikd.text.lexicon import read_lexicon

    counts: Counter = Counter()
    failed = 0
    for key in lang_keys:
        fe = get_frontend(key)
        texts = fe.lang.sentences()
        if fe.lang.lexicon_path.exists():
            texts += list(read_lexicon(fe.lang.lexicon_path))
        for path in text_files:
            with open(path, encoding="utf-8") as fh:
                texts += [ln.strip() for ln in fh if ln.strip()]
        for t, res in zip(texts, fe.phonemize_batch(texts, errors="collect")):
            if isinstance(res, MultikdError):
                failed += 1
                print(f"warning: {fe.lang.iso}: skipped {t[:40]!r}: {res}", file=sys.stderr)
                continue
            counts.update(res.phones)
    return counts, failed


def run(args) -> int:
    from multikd.errors import ConfigError
    from multikd.text.features import nearest
    from multikd.text.symbols import SPECIALS, SymbolTable

    if not args.lang and not args.prepared:
        raise ConfigError("give --lang and/or --prepared", fix="e.g. multikd phones --lang swa")
    counts, failed = inventory(args.lang, args.text)
    for folder in args.prepared:
        import datasets

        for phones in datasets.load_from_disk(f"{folder}/dataset").select_columns(["phones"])["phones"]:
            counts.update(phones)
    names = args.lang + [f"prepared:{p}" for p in args.prepared]
    tokens = sorted(t for t in counts if t not in SPECIALS)
    if args.write:
        SymbolTable(tokens).save(args.write)
        print(f"wrote {args.write}: {len(SPECIALS)} specials + {len(tokens)} tokens")
    if not args.against:
        if args.merge_into:
            raise ConfigError("--merge-into needs --against TABLE.json")
        if args.json:
            print(json.dumps({"languages": names, "tokens": {t: counts[t] for t in tokens},
                              "failed_texts": failed}, ensure_ascii=False))
        elif not args.write:
            print(" ".join(tokens))
        return 0
    table = SymbolTable.load(args.against)
    unseen = [t for t in tokens if t not in table]
    report = [{"phone": t, "count": counts[t],
               "nearest": [{"phone": p, "distance": round(d, 3)} for p, d in nearest(t, table.phones)]}
              for t in unseen]
    if args.json:
        print(json.dumps({"languages": names, "table": args.against, "known": len(tokens) - len(unseen),
                          "unseen": report, "failed_texts": failed}, ensure_ascii=False))
    else:
        print(f"{', '.join(names)}: {len(tokens)} tokens, {len(unseen)} not in {args.against}")
        for r in report:
            near = ", ".join(f"{n['phone']} ({n['distance']:.2f})" for n in r["nearest"]) or "-"
            print(f"  {r['phone']:<6} x{r['count']:<5} nearest: {near}")
    if args.merge_into:
        added = table.merge(unseen)
        table.save(args.merge_into)
        print(f"wrote {args.merge_into}: {len(added)} token(s) appended after id {len(table) - len(added) - 1}")
    return 0
