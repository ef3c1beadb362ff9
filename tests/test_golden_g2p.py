"""Golden phones for every supported language's test sentences (lexicons/*/sentences.txt).

The goldens pin what espeak-ng 1.51 (Debian 12), epitran and the lexicons give today; a change in any of
them, or in normalisation/segmentation, shows up here as a readable diff. After checking that a change is
intended, regenerate with ``MULTIKD_UPDATE_GOLDEN=1 pytest tests/test_golden_g2p.py``.
"""
import json
import os

import pytest

from multikd.text import get_frontend
from multikd.text.languages import default_registry

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "g2p.json")
LANGS = sorted(default_registry().languages)


def _current(iso):
    fe = get_frontend(iso)
    return {s: " ".join(fe.phonemize(s).phones) for s in fe.lang.sentences()}


def test_update_golden_if_asked():
    if not os.environ.get("MULTIKD_UPDATE_GOLDEN"):
        pytest.skip("set MULTIKD_UPDATE_GOLDEN=1 to rewrite the goldens")
    with open(GOLDEN, "w", encoding="utf-8") as fh:
        json.dump({iso: _current(iso) for iso in LANGS}, fh, ensure_ascii=False, indent=1, sort_keys=True)
        fh.write("\n")


@pytest.mark.parametrize("iso", LANGS)
def test_golden_phones(iso):
    with open(GOLDEN, encoding="utf-8") as fh:
        golden = json.load(fh)
    assert iso in golden, f"no golden for {iso}: regenerate (see module docstring)"
    assert _current(iso) == golden[iso]
