"""PNG plots of mels and alignments for training samples (matplotlib, headless Agg backend)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import warnings

    import matplotlib

    # Phone labels of scripts DejaVu Sans lacks (Devanagari…) draw as boxes; one warning per glyph per
    # plot would bury the training log, and the plot stays readable by position.
    warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
    matplotlib.use("Agg")  # no display on training machines; must precede the pyplot import
    import matplotlib.pyplot as plt

    return plt


def plot_mel(mel: np.ndarray, path: Path, title: str = "", reference: np.ndarray | None = None) -> None:
    """Save mel [T, n_mels] (ln) as an image; with ``reference`` [T', n_mels] the two are stacked."""
    plt = _pyplot()
    mels = [("predicted", mel)] + ([("ground truth", reference)] if reference is not None else [])
    fig, axes = plt.subplots(len(mels), 1, figsize=(10, 2.6 * len(mels)), squeeze=False)
    for ax, (name, m) in zip(axes[:, 0], mels):
        im = ax.imshow(np.asarray(m).T, origin="lower", aspect="auto", interpolation="none", vmin=-11.5)
        ax.set_title(f"{title} — {name}" if title else name, fontsize=9)
        ax.set_ylabel("mel bin")
        fig.colorbar(im, ax=ax, pad=0.01)
    axes[-1, 0].set_xlabel("frame")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_alignment(soft: np.ndarray, path: Path, hard: np.ndarray | None = None, phones: list[str] | None = None,
                   title: str = "") -> None:
    """Save an alignment: soft [T_mel, T_text] as an image, the hard path (argmax of ``hard``) on top."""
    plt = _pyplot()
    soft = np.asarray(soft)
    fig, ax = plt.subplots(figsize=(10, max(3.0, 0.12 * soft.shape[1])))
    ax.imshow(soft.T, origin="lower", aspect="auto", interpolation="none", cmap="viridis")
    if hard is not None:
        ax.plot(np.arange(soft.shape[0]), np.asarray(hard).argmax(axis=1), color="white", lw=0.8)
    if phones and len(phones) == soft.shape[1]:
        ax.set_yticks(range(len(phones)))
        ax.set_yticklabels(phones, fontsize=6)
    ax.set_xlabel("mel frame")
    ax.set_ylabel("phone")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
