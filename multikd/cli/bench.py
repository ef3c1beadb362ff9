"""`multikd bench NAME`: run a benchmark and print its table."""
from __future__ import annotations

COMMAND = "bench"
HELP = "benchmarks with side-by-side timings and ratios (e.g. `multikd bench prepare`)"


def add_arguments(p):
    from multikd.bench import benches

    sub = p.add_subparsers(dest="bench", metavar="NAME", required=True)
    for name, (help_, add_args, fn) in sorted(benches().items()):
        sp = sub.add_parser(name, help=help_, description=help_)
        add_args(sp)
        sp.set_defaults(_bench=fn)


def run(args) -> int:
    import torch

    torch.set_num_threads(1)
    return int(args._bench(args) or 0)
