"""`multikd g2p`: print the phones of text in a language."""
from __future__ import annotations

import json
import sys

COMMAND = "g2p"
HELP = "turn text into phones of the shared IPA space (lexicon ▸ epitran ▸ espeak-ng)"


def add_arguments(p):
    p.add_argument("--lang", required=True, help="ISO 639-3 code or alias (spa, es, en-us, ...)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per input: text, language, phones, words")
    p.add_argument("--file", help="read texts from this file, one per line ('-' for stdin)")
    p.add_argument("texts", nargs="*", metavar="TEXT")


def run(args) -> int:
    from multikd.errors import MultikdError
    from multikd.text import get_frontend

    texts = list(args.texts)
    if args.file:
        fh = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")
        with fh:
            texts += [ln.rstrip("\n") for ln in fh if ln.strip()]
    if not texts:
        print("error: give TEXT arguments or --file", file=sys.stderr)
        return 2
    fe = get_frontend(args.lang)
    failed = 0
    for i, res in enumerate(fe.phonemize_batch(texts, errors="collect"), 1):
        if isinstance(res, MultikdError):
            failed += 1
            print(f"error: input {i}: {res}", file=sys.stderr)
            if args.json:
                print(json.dumps({"text": texts[i - 1], "language": fe.lang.iso, "error": str(res)},
                                 ensure_ascii=False))
            continue
        print(json.dumps(res.to_json(), ensure_ascii=False) if args.json else " ".join(res.phones))
    return 2 if failed else 0
