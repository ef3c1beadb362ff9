"""Property tests: any Unicode string yields phones or a typed MultikdError — never a crash or a hang."""
import random
import signal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from multikd.errors import MultikdError
from multikd.text import get_frontend
from multikd.text.features import token_features

POOLS = [
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "áàâäãåæçéèêëíìîïñóòôöõøœúùûüýÿßẹọṣ",
    "\u0300\u0301\u0303\u0323\u0329",  # combining marks, also at string start
    "अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह्ािीुूेैोौंः।",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    "你好世界日本語한국어",
    "😀🐶🎉👍🏽‍❤️",
    "\x00\x01\x07\x1b\x7f\u200b\u200c\u200d\u2028\ufeff\ufffe",
    " \t\n\r",
    ".,;:!?¿¡-—()[]\"'«»…/\\@#$%^&*+=<>|~`",
    "0123456789٠١٢३४५",
]
LANGS = ["eng", "yor", "swa", "hin", "rus"]


def random_text(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.02:
        n = rng.randint(2_000, 20_000)  # very long
    elif r < 0.1:
        n = rng.randint(40, 400)
    else:
        n = rng.randint(0, 40)
    if rng.random() < 0.15:  # anything in the code space, unassigned and surrogates included
        return "".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(n))
    pools = rng.sample(POOLS, rng.randint(1, 3))
    return "".join(rng.choice(rng.choice(pools)) for _ in range(n))


class _Timeout(Exception):
    pass


@pytest.fixture
def deadline():
    def alarm(*_):
        raise _Timeout("front end hung")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(600)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _assert_sound(results):
    ok = 0
    for res in results:
        if isinstance(res, MultikdError):
            assert str(res)
            continue
        assert res.phones, res
        for tok in res.phones:
            token_features(tok)  # every output token belongs to the shared space
        ok += 1
    return ok


def test_ten_thousand_random_strings(deadline):
    rng = random.Random(1234)
    texts = [random_text(rng) for _ in range(10_000)]
    ok = 0
    for i, lang in enumerate(LANGS):
        chunk = texts[i::len(LANGS)]
        ok += _assert_sound(get_frontend(lang).phonemize_batch(chunk, errors="collect"))
    assert ok > 200  # the generator produces enough speakable text for the happy path to be exercised


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_hypothesis_text_eng(text):
    try:
        res = get_frontend("eng").phonemize(text)
    except MultikdError:
        return
    assert res.phones
