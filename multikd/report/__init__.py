"""Evaluation runs and the report people look at: systems × languages × metrics, plots, audio, HTML.

Typical use (what ``multikd evaluate`` does)::

    from multikd.report import build_report, evaluate_systems, parse_systems
    result = evaluate_systems(parse_systems(["teacher=runs/t/model", "distill-15min=runs/d/model"]),
                              "out/prepared/test", "out/eval", languages=["cat", "spa"])
    build_report(result, "out/eval")      # summary.md, plots/*.png, index.html

Modules: :mod:`~multikd.report.run` (synthesise, score, metrics.json/csv), :mod:`~multikd.report.tables`
(the cells every output shares), :mod:`~multikd.report.plots` (matplotlib, Agg),
:mod:`~multikd.report.html` (index.html, offline, relative links).
"""
from __future__ import annotations

import json
from pathlib import Path

from multikd.errors import ConfigError
from multikd.report.run import RESULT_FORMAT, System, evaluate_systems, parse_speaker_map, parse_systems

__all__ = ["System", "parse_systems", "parse_speaker_map", "evaluate_systems", "build_report", "load_result"]


def load_result(out_dir: str | Path) -> dict:
    """Read back ``metrics.json`` (to rebuild a report without synthesising again).

    Raises:
        ConfigError: no readable metrics.json of this format in the folder.
    """
    path = Path(out_dir) / "metrics.json"
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read the evaluation result ({e})", where=str(path),
                          fix="run `multikd evaluate` into this folder first") from None
    if result.get("format") != RESULT_FORMAT:
        raise ConfigError("not a multikd evaluation result", where=str(path))
    return result


def build_report(result: dict, out_dir: str | Path, matrix_key: str = "mcd_db") -> dict[str, Path]:
    """Write ``summary.md``, ``plots/*.png`` and ``index.html`` next to the result's metrics.json.

    Returns:
        ``{"summary": path, "index": path}``.
    """
    from multikd.report.html import write_index
    from multikd.report.plots import all_plots
    from multikd.report.tables import summary_markdown

    out_dir = Path(out_dir)
    summary = out_dir / "summary.md"
    summary.write_text(summary_markdown(result, matrix_key), encoding="utf-8")
    figures = all_plots(result, out_dir)
    return {"summary": summary, "index": write_index(result, out_dir, figures, matrix_key)}
