"""`multikd check`: validate contributed files (lexicon folders, data cards, recipes)."""
from __future__ import annotations

COMMAND = "check"
HELP = "validate lexicon folders, data cards and recipes; print file:line: problem — fix"


def add_arguments(p):
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (e.g. lexicons/ data_cards/)")


def run(args) -> int:
    from pathlib import Path

    from multikd.checks import check_path

    total_ran, total_problems = 0, 0
    for path in args.paths:
        ran, problems = check_path(Path(path))
        total_ran += len(ran)
        total_problems += len(problems)
        for p in problems:
            print(p)
        if not ran and not problems:
            print(f"{path}: nothing multikd knows how to check here "
                  "(expected a lexicon folder with lang.toml, a data card .md, a recipe .yaml, or a folder of them)")
            total_problems += 1
    status = "ok" if total_problems == 0 else f"{total_problems} problem(s)"
    print(f"checked {total_ran} item(s): {status}")
    return 0 if total_problems == 0 else 1
