"""``index.html``: the page people look at — caveats, tables, figures, and players side by side per sentence.

The page is one self-contained file with inline CSS and no script; every image and audio file is a relative
link inside the output folder, so the folder can be zipped, copied or opened offline from disk.
"""
from __future__ import annotations

import csv
import html
from pathlib import Path

from multikd.report.tables import cost_table, headline_keys, key_label, language_table, matrix_table, notes

__all__ = ["write_index"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: .5em 0 1.2em; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
.synthetic { border: 3px solid #b00; background: #fee; padding: .8em 1em; font-size: 1.1em; margin: 1em 0; }
.notes li { margin: .2em 0; }
figure { display: inline-block; margin: .5em; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .85em; color: #555; }
audio { width: 220px; }
.score { font-size: .8em; color: #555; }
"""


def _e(s) -> str:
    return html.escape(str(s), quote=True)


def _table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figures(items: list[dict]) -> str:
    return "".join(f'<figure><img src="{_e(f["file"])}" alt="{_e(f["caption"])}">'
                   f'<figcaption>{_e(f["caption"])}</figcaption></figure>' for f in items)


def _per_utterance_scores(out_dir: Path, key: str) -> dict[tuple[str, str], str]:
    """``{(system, id): value}`` of one metric from metrics.csv, to print under each player."""
    path = out_dir / "metrics.csv"
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as fh:
        return {(r["system"], r["id"]): r.get(key, "") for r in csv.DictReader(fh)}


def _listening(result: dict, out_dir: Path) -> str:
    """Per language, one row per sentence: the text, then reference and each system's player."""
    keys = headline_keys(result)
    key = keys[0] if keys else None
    scores = _per_utterance_scores(out_dir, key) if key else {}
    parts = []
    for lang in result["languages"]:
        spoken = [n for n, s in result["systems"].items() if "skipped" not in s["languages"].get(lang, {})]
        head = "".join(f"<th>{_e(n)}</th>" for n in ["sentence", "reference"] + spoken)
        body = []
        for utt in result["utterances"][lang]:
            cells = [f"<td><b>{_e(utt['id'])}</b> ({_e(utt['speaker'])})<br>{_e(utt['text'])}</td>",
                     f'<td><audio controls preload="none" src="audio/reference/{_e(utt["file"])}.wav"></audio></td>']
            for name in spoken:
                value = scores.get((name, utt["id"]), "")
                label = f'<div class="score">{_e(key_label(result, key))}: {float(value):.2f}</div>' if value else ""
                cells.append(f'<td><audio controls preload="none" src="audio/{_e(name)}/{_e(utt["file"])}.wav">'
                             f"</audio>{label}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        parts.append(f"<h3>{_e(lang)}</h3><table class=\"listen\"><thead><tr>{head}</tr></thead>"
                     f"<tbody>{''.join(body)}</tbody></table>")
    return "".join(parts)


def write_index(result: dict, out_dir: str | Path, figures: dict[str, list[dict]], matrix_key: str = "mcd_db") -> Path:
    """Write ``out_dir/index.html`` from the result and the figures :func:`multikd.report.plots.all_plots` made."""
    out_dir = Path(out_dir)
    test = result["test"]
    parts = [f"<h1>multikd evaluation: {_e(', '.join(result['systems']))}</h1>"]
    if test.get("synthetic"):
        parts.append('<div class="synthetic" id="synthetic-warning" role="alert"><strong>Synthetic test data.</strong> '
                     "The test corpus card says <code>synthetic: true</code>: the reference recordings were made "
                     "by speech synthesizers, not people. These scores measure how close the systems come to "
                     "that machine speech and say nothing about real human speech.</div>")
    parts.append(f"<p>Test corpus <code>{_e(test['path'])}</code> (card {_e(test.get('card_name'))}, licence "
                 f"{_e(test.get('licence'))}); vocoder {_e(result['vocoder'])}; created {_e(result['created'])}; "
                 f"commit <code>{_e(result.get('git_commit') or 'unknown')}</code>. Cells are mean ± half-width of "
                 "the bootstrap 95 % confidence interval over sentences.</p>")
    caveats = notes(result, synthetic=False)  # the banner above already says it
    if caveats:
        parts.append('<h2>Read this first</h2><ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in caveats) + "</ul>")
    parts.append("<h2>Results per language</h2>")
    for lang in result["languages"]:
        parts.append(f"<h3>{_e(lang)} — {test['n_per_language'][lang]} sentences (split: "
                     f"{_e(test['split_used'][lang])})</h3>" + _table(*language_table(result, lang)))
    if any(matrix_key in info["keys"] for info in result["metric_info"].values()):
        parts.append(f"<h2>Cross-lingual matrix ({_e(key_label(result, matrix_key))})</h2>"
                     + _table(*matrix_table(result, matrix_key), cls="matrix"))
    parts.append("<h2>Cost</h2>" + _table(*cost_table(result)))
    if figures.get("efficiency"):
        parts.append("<h2>Data efficiency</h2>" + _figures(figures["efficiency"]))
    if figures.get("bars"):
        parts.append("<h2>Metrics per system and language</h2>" + _figures(figures["bars"]))
    if figures.get("mels"):
        parts.append("<h2>Spectrograms</h2>" + _figures(figures["mels"]))
    parts.append("<h2>Listen</h2>" + _listening(result, out_dir))
    parts.append("<h2>Metrics</h2><ul>" + "".join(f"<li><b>{_e(n)}</b>: {_e(i['description'])}</li>"
                                                  for n, i in result["metric_info"].items()) + "</ul>")
    parts.append('<p>Files: <a href="metrics.json">metrics.json</a>, <a href="metrics.csv">metrics.csv</a> '
                 '(per sentence), <a href="summary.md">summary.md</a>.</p>')
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>multikd evaluation</title>'
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path

