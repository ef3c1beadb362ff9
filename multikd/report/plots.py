"""Figures of an evaluation result, written as PNG with matplotlib's Agg backend (no display needed).

* ``bars-<key>.png``: per metric, systems side by side per language, error bars = 95 % CI;
* ``efficiency-<key>.png``: metric against minutes of target data for systems named ``<group>-<N>min``;
* ``mel-<lang>-<id>.png``: log-mel spectrograms of the reference and every system for one sentence.

Each function returns the written files relative to the output folder, with a caption, for the HTML page.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from multikd.report.tables import cell_stat, data_efficiency_groups, headline_keys, key_label

log = logging.getLogger(__name__)

__all__ = ["metric_bars", "data_efficiency_plots", "mel_examples", "all_plots"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: headless machines and CI have no display
    import matplotlib.pyplot as plt

    return plt


def _mean_err(stat: dict | None) -> tuple[float, list[float]]:
    """(mean, [below, above]) for an error bar; NaN mean hides the bar, missing CI draws none."""
    if not stat or stat.get("mean") is None:
        return math.nan, [0.0, 0.0]
    m = stat["mean"]
    if stat.get("ci_low") is None or stat.get("ci_high") is None:
        return m, [0.0, 0.0]
    return m, [m - stat["ci_low"], stat["ci_high"] - m]


def metric_bars(result: dict, out: Path) -> list[dict]:
    """One grouped bar chart per headline metric: languages on the x axis, one bar per system."""
    plt = _plt()
    systems, langs = list(result["systems"]), list(result["languages"])
    files = []
    width = 0.8 / max(len(systems), 1)
    for key in headline_keys(result):
        fig, ax = plt.subplots(figsize=(max(4.0, 1.2 + 0.9 * len(langs) * max(len(systems), 2) * 0.5), 3.2))
        x = np.arange(len(langs))
        drawn = False
        for i, name in enumerate(systems):
            stats = [_mean_err(cell_stat(result, name, lang, key)) for lang in langs]
            means = np.array([s[0] for s in stats], dtype=float)
            errs = np.array([s[1] for s in stats], dtype=float).T  # [2, L]: below, above
            drawn |= bool(np.isfinite(means).any())
            ax.bar(x + (i - (len(systems) - 1) / 2) * width, np.nan_to_num(means), width, yerr=errs,
                   capsize=3, label=name)
        if not drawn:
            log.debug("no %s values to plot", key)
            plt.close(fig)
            continue
        ax.set_xticks(x, langs)
        ax.set_ylabel(key_label(result, key))
        ax.set_title(f"{key_label(result, key)} per language (95 % CI)")
        ax.legend(fontsize="small", ncol=min(len(systems), 4))
        fig.tight_layout()
        name = f"bars-{key}.png"
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        files.append({"file": f"plots/{name}", "caption": f"{key_label(result, key)}: mean and 95 % CI per system"})
    return files


def data_efficiency_plots(result: dict, out: Path) -> list[dict]:
    """Metric vs minutes of target data for each ``<group>-<N>min`` family, one line per group × language."""
    groups = data_efficiency_groups(result["systems"])
    if not groups:
        return []
    plt = _plt()
    files = []
    for key in headline_keys(result):
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
        ticks: set[float] = set()
        drawn = False
        for group, points in groups.items():
            for lang in result["languages"]:
                xs, ys, errs = [], [], []
                for minutes, name in points:
                    m, e = _mean_err(cell_stat(result, name, lang, key))
                    if math.isfinite(m):
                        xs.append(minutes)
                        ys.append(m)
                        errs.append(e)
                if len(xs) >= 2:
                    ax.errorbar(xs, ys, yerr=np.array(errs).T, marker="o", capsize=3, label=f"{group} / {lang}")
                    ticks.update(xs)
                    drawn = True
        if not drawn:
            plt.close(fig)
            continue
        ax.set_xscale("log")  # 5 / 15 / 60 minutes: equal steps on a log axis
        ax.set_xticks(sorted(ticks), [f"{t:g}" for t in sorted(ticks)])
        ax.minorticks_off()
        ax.set_xlabel("minutes of target-language data")
        ax.set_ylabel(key_label(result, key))
        ax.set_title(f"data efficiency: {key_label(result, key)}")
        ax.legend(fontsize="small")
        fig.tight_layout()
        name = f"efficiency-{key}.png"
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        files.append({"file": f"plots/{name}", "caption": f"{key_label(result, key)} against minutes of target data"})
    return files


def mel_examples(result: dict, out_dir: Path, out: Path, per_language: int = 1) -> list[dict]:
    """Reference and system log-mels of the first sentence(s) of each language, stacked on one time axis."""
    from multikd.audio.config import AudioConfig
    from multikd.audio.features import log_mel
    from multikd.audio.io import load_audio

    plt = _plt()
    cfg = AudioConfig.from_dict(result["test"].get("audio") or {}, where="metrics.json test.audio")
    files = []
    for lang in result["languages"]:
        for utt in result["utterances"][lang][:per_language]:
            panels = [("reference", out_dir / "audio" / "reference" / f"{utt['file']}.wav")]
            panels += [(name, out_dir / "audio" / name / f"{utt['file']}.wav") for name in result["systems"]]
            panels = [(n, p) for n, p in panels if p.is_file()]
            mels = [log_mel(load_audio(p, cfg.sample_rate), cfg).numpy() for _, p in panels]  # [n_mels, T] each
            t_max = max(m.shape[1] for m in mels) / cfg.frames_per_second
            lo = min(float(np.percentile(m, 5)) for m in mels)
            hi = max(float(m.max()) for m in mels)
            fig, axes = plt.subplots(len(panels), 1, figsize=(7, 1.5 * len(panels) + 0.4), squeeze=False)
            for ax, (name, _), mel in zip(axes[:, 0], panels, mels):
                ax.imshow(mel, origin="lower", aspect="auto", vmin=lo, vmax=hi, cmap="magma",
                          extent=(0, mel.shape[1] / cfg.frames_per_second, 0, mel.shape[0]))
                ax.set_xlim(0, t_max)  # one time scale: durations are compared by eye
                ax.set_ylabel(name, fontsize="small")
                ax.set_yticks([])
            axes[-1, 0].set_xlabel("seconds")
            fig.suptitle(f"{lang}: {utt['text'][:80]}", fontsize="small")
            fig.tight_layout()
            name = f"mel-{lang}-{utt['file']}.png"
            fig.savefig(out / name, dpi=90)
            plt.close(fig)
            files.append({"file": f"plots/{name}", "caption": f"{lang} {utt['id']}: log-mel, reference then each system"})
    return files


def all_plots(result: dict, out_dir: str | Path) -> dict[str, list[dict]]:
    """Every figure into ``out_dir/plots``; ``{"bars": [...], "efficiency": [...], "mels": [...]}``."""
    out_dir = Path(out_dir)
    out = out_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)
    return {"bars": metric_bars(result, out), "efficiency": data_efficiency_plots(result, out),
            "mels": mel_examples(result, out_dir, out)}
