#!/usr/bin/env bash
# One-shot, idempotent set-up of a fresh Debian machine for multikd: Debian packages (speech
# synthesizers, G2P engines), a virtual environment in .venv, the CPU torch wheel, and the package.
# Re-running skips what is done (stamp files in .venv/), so `make demo` and `make test` can both call it.
set -euo pipefail
cd "$(dirname "$0")/.."

# espeak-ng: G2P backend (phonemizer) and demo voices. festival + festvox voices and flite: the other
# offline synthesizers of the demo corpus (see multikd/data/demo/voices.toml).
APT_PACKAGES=(espeak-ng libespeak-ng1 flite festival
  festvox-us-slt-hts festvox-kallpc16k festvox-kdlpc16k festvox-italp16k festvox-itapc16k
  festvox-czech-dita festvox-czech-krb festvox-czech-machac festvox-czech-ph
  festvox-suopuhe-lj festvox-suopuhe-mv festvox-ru festvox-hi-nsk festvox-mr-nsk festvox-ca-ona-hts
  chromium)  # headless browser: the evaluation report's HTML test

stamp_apt=.venv/.apt-done
stamp_pip=.venv/.pip-done
want_pip="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating virtual environment .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
mkdir -p .venv
if [ ! -f "$stamp_pip" ] || [ "$(cat "$stamp_pip")" != "$want_pip" ]; then
  echo "setup: installing Python packages into .venv (first time: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  # The CPU wheel first: an unpinned torch would pull a multi-GB CUDA build.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e '.[dev,eval]'
  echo "$want_pip" > "$stamp_pip"
fi
echo "setup: ready (.venv/bin/multikd)"
