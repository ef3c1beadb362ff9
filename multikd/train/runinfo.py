"""What a run folder records about itself: ``config.yaml`` (the resolved recipe) and ``run.json``
(git commit, package versions, start time and resumes, data fingerprints) — enough to tell later exactly
what produced a model."""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import yaml

from multikd.config import to_dict

PACKAGES = ("multikd", "torch", "accelerate", "transformers", "datasets", "numpy")


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=Path(__file__).parent).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def versions() -> dict[str, str | None]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def data_fingerprint(folder: Path) -> dict:
    """Identity of a prepared folder: the datasets fingerprint of its table plus its symbol and speaker files."""
    h = hashlib.sha1()
    for rel in ("dataset/state.json", "symbols.json", "speakers.json", "config.json"):
        p = folder / rel
        if p.is_file():
            h.update(rel.encode())
            h.update(p.read_bytes())
    return {"folder": str(folder.resolve()), "sha1": h.hexdigest()}


def write_config(run_dir: Path, recipe) -> None:
    data = to_dict(recipe)
    data.pop("base_dir", None)
    text = f"# resolved recipe of this run (recipe folder: {recipe.base_dir})\n"
    (run_dir / "config.yaml").write_text(text + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                                         encoding="utf-8")


def record_start(run_dir: Path, folders: list[Path], step: int, extra: dict) -> None:
    """Create run.json on the first start; on a resume, append the start to its ``resumes`` list."""
    path = run_dir / "run.json"
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if path.is_file():
        info = json.loads(path.read_text(encoding="utf-8"))
        info.setdefault("resumes", []).append({"time": now, "step": step, "git_commit": git_commit(),
                                               "data": [data_fingerprint(f) for f in folders]})
    else:
        info = {"started": now, "git_commit": git_commit(), "versions": versions(), "argv": sys.argv,
                "data": [data_fingerprint(f) for f in folders], **extra, "resumes": []}
    path.write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
