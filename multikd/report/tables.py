"""Tables of an evaluation result (``metrics.json``): per-language summaries, the cross-lingual matrix, cost.

Every function takes the result dict :func:`multikd.report.run.evaluate_systems` returns and gives
``(header, rows)`` of strings, so the terminal, ``summary.md`` and ``index.html`` show the same cells.
A cell is ``mean ± half-width of the 95 % CI``; with one utterance no interval exists and the cell says
``(n=1)`` instead of pretending to a precision it does not have.
"""
from __future__ import annotations

import re

from multikd.bench import table

__all__ = ["fmt_ci", "headline_keys", "key_label", "language_table", "matrix_table", "cost_table",
           "data_efficiency_groups", "notes", "summary_markdown"]

# Short column labels with units; keys not listed show as themselves.
KEY_LABELS = {"mcd_db": "MCD dB", "f0_rmse_cents": "F0 RMSE cents", "vuv_error": "V/UV error",
              "duration_log_error": "duration log-ratio error", "dnsmos_ovrl": "DNSMOS OVRL", "speaker_sim": "speaker cos",
              "wer": "WER", "f0_median_hz": "median F0 Hz", "voiced_fraction": "voiced fraction"}
# Descriptive numbers (the ``pitch`` metric) have no better direction: no arrow, so none is implied.
_NO_DIRECTION = {"f0_median_hz", "voiced_fraction"}
_MINUTES_RE = re.compile(r"^(?P<group>.+)-(?P<minutes>\d+(?:\.\d+)?)min$")


def fmt_ci(stat: dict | None, digits: int = 2) -> str:
    """``{"mean", "ci_low", "ci_high", "n"}`` → ``"5.31 ± 0.42"`` (or ``"5.31 (n=1)"``, or ``"-"``)."""
    if not stat or not stat.get("n") or stat.get("mean") is None:
        return "-"
    if stat.get("ci_low") is None or stat.get("ci_high") is None:
        return f"{stat['mean']:.{digits}f} (n={stat['n']})"
    return f"{stat['mean']:.{digits}f} ± {(stat['ci_high'] - stat['ci_low']) / 2:.{digits}f}"


def headline_keys(result: dict) -> list[str]:
    """One number per metric for tables and bar plots: the metric's first key (what it is judged by)."""
    return [result["metric_info"][m]["keys"][0] for m in result["metrics"]]


def key_label(result: dict, key: str) -> str:
    """Column label with the direction that is better (↓ lower, ↑ higher)."""
    if key in _NO_DIRECTION:
        return KEY_LABELS[key]
    better_high = any(info["keys"][0] == key and info["higher_is_better"] for info in result["metric_info"].values())
    return f"{KEY_LABELS.get(key, key)} {'↑' if better_high else '↓'}"


def cell_stat(result: dict, system: str, lang: str, key: str) -> dict | None:
    """The ``mean_ci`` dict of one system × language × key, or None (not spoken or not scored)."""
    cell = result["systems"][system]["languages"].get(lang, {})
    return (cell.get("summary") or {}).get("values", {}).get(key)


def language_table(result: dict, lang: str) -> tuple[list[str], list[list[str]]]:
    """Systems × headline metrics for one language."""
    keys = headline_keys(result)
    header = ["system", "n"] + [key_label(result, k) for k in keys]
    rows = []
    for name, sysres in result["systems"].items():
        cell = sysres["languages"].get(lang, {})
        if "skipped" in cell:
            rows.append([name, "0"] + ["not spoken"] * len(keys))
            continue
        rows.append([name, str(cell.get("n", 0))] + [fmt_ci(cell_stat(result, name, lang, k)) for k in keys])
    return header, rows


def matrix_table(result: dict, key: str = "mcd_db") -> tuple[list[str], list[list[str]]]:
    """The cross-lingual matrix: systems × languages of one metric key (MCD by default)."""
    header = [f"system \\ {key_label(result, key)}"] + list(result["languages"])
    rows = []
    for name, sysres in result["systems"].items():
        row = [name]
        for lang in result["languages"]:
            cell = sysres["languages"].get(lang, {})
            row.append("not spoken" if "skipped" in cell else fmt_ci(cell_stat(result, name, lang, key)))
        rows.append(row)
    return header, rows


def cost_table(result: dict) -> tuple[list[str], list[list[str]]]:
    """Parameters, folder size and one-thread CPU real-time factor (acoustic model + vocoder) per system."""
    header = ["system", "parameters", "size MB", "CPU RTF (1 thread, end to end)", "vocoder"]
    rows = []
    for name, sysres in result["systems"].items():
        c = sysres.get("cost")
        if not c:
            rows.append([name, "-", "-", "-", "-"])
            continue
        rows.append([name, f"{c['parameters'] / 1e6:.2f} M", f"{c['folder_mb']:.1f}", f"{c['rtf_cpu_1thread']:.4f}",
                     c.get("vocoder", "-")])
    return header, rows


def data_efficiency_groups(systems) -> dict[str, list[tuple[float, str]]]:
    """System names like ``distill-5min``, ``distill-15min`` → ``{"distill": [(5.0, name), (15.0, name)]}``.

    Only groups with at least two sizes are kept: one point is not a curve.
    """
    groups: dict[str, list[tuple[float, str]]] = {}
    for name in systems:
        m = _MINUTES_RE.match(name)
        if m:
            groups.setdefault(m["group"], []).append((float(m["minutes"]), name))
    return {g: sorted(pts) for g, pts in groups.items() if len(pts) >= 2}


def notes(result: dict, synthetic: bool = True) -> list[str]:
    """Caveats a reader must see next to the numbers: synthetic data, reused training rows, voice swaps.

    Args:
        synthetic: include the synthetic-data caveat (the HTML page shows it as a banner of its own).
    """
    out = []
    test = result["test"]
    if synthetic and test.get("synthetic"):
        out.append("The test corpus card says `synthetic: true`: the references are machine speech, so these "
                   "numbers say nothing about real human speech.")
    for lang, used in test.get("split_used", {}).items():
        if used != "test":
            out.append(f"{lang}: the test folder has no `test` split for this language; all its rows were used, "
                       "and a system may have been trained on them.")
    for name, sysres in result["systems"].items():
        for lang, cell in sysres["languages"].items():
            if "skipped" in cell:
                out.append(f"{name} / {lang}: {cell['skipped']}.")
            for note in cell.get("speaker_notes", []):
                out.append(f"{name} / {lang}: speaker {note}.")
            for metric, reasons in ((cell.get("summary") or {}).get("skipped") or {}).items():
                for reason, count in reasons.items():
                    out.append(f"{name} / {lang}: {metric} skipped for {count} utterance(s): {reason}.")
    return out


def _md(header_rows: tuple[list[str], list[list[str]]]) -> str:
    header, rows = header_rows
    return table(rows, header)


def summary_markdown(result: dict, matrix_key: str = "mcd_db") -> str:
    """The whole ``summary.md``: caveats, one table per language, the matrix, cost, and metric definitions."""
    test = result["test"]
    lines = ["# Evaluation summary", "",
             f"Test corpus: `{test['path']}` (card {test.get('card_name')!r}, licence {test.get('licence')!r}); "
             f"vocoder: {result['vocoder']}; created {result['created']}, commit {result.get('git_commit') or 'unknown'}.",
             "Cells: mean ± half-width of the bootstrap 95 % confidence interval over utterances.", ""]
    caveats = notes(result)
    if caveats:
        lines += ["## Read this first", ""] + [f"- {n}" for n in caveats] + [""]
    for lang in result["languages"]:
        lines += [f"## {lang} ({test['n_per_language'][lang]} sentences, split: {test['split_used'][lang]})", "",
                  _md(language_table(result, lang)), ""]
    if any(matrix_key in info["keys"] for info in result["metric_info"].values()):
        lines += ["## Cross-lingual matrix", "", _md(matrix_table(result, matrix_key)), ""]
    lines += ["## Cost", "", _md(cost_table(result)), ""]
    lines += ["## Metrics", ""] + [f"- **{name}**: {info['description']}" for name, info in result["metric_info"].items()]
    return "\n".join(lines) + "\n"
