"""Acoustic model (multikd.models): shapes, masking, MAS, save/load, overfitting, phone features.

All on the "tiny" preset with 20 mel bands so the whole file runs in well under a minute on one thread.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from multikd.errors import ConfigError
from multikd.models import LOSS_NAMES, AcousticConfig, AcousticModel, AcousticOutput
from multikd.models.aligner import beta_binomial_log_prior, mas
from multikd.models.variance import Bins
from multikd.text.symbols import SymbolTable

N_MELS = 20
PHONES = ["a", "b", "k", "i", "u", "s", "t", "m", "n", "ɓ"]  # ɓ plays the phone never seen in training
UNSEEN = "ɓ"


@pytest.fixture(scope="module")
def table() -> SymbolTable:
    return SymbolTable(PHONES)


def make_config(table, n_languages=2, n_speakers=3, **kw) -> AcousticConfig:
    settings = dict(vocab_size=len(table), phone_features=table.feature_matrix().tolist(), n_mels=N_MELS,
                    n_languages=n_languages, n_speakers=n_speakers,
                    language_names=[f"l{i}" for i in range(n_languages)],
                    speaker_names=[f"s{i}" for i in range(n_speakers)])
    return AcousticConfig.preset("tiny", **{**settings, **kw})


def make_model(table, seed=0, **kw) -> AcousticModel:
    torch.manual_seed(seed)
    return AcousticModel(make_config(table, **kw))


def make_batch(table, text_lengths=(9, 6, 4), frames_per_phone=3, seed=0, n_languages=2, n_speakers=3):
    """A padded batch with random content, integer durations and pad garbage (NaN in the mel padding)."""
    g = torch.Generator().manual_seed(seed)
    seen = [table.id(p) for p in PHONES if p != UNSEEN]
    B, N = len(text_lengths), max(text_lengths)
    phone_ids = torch.zeros(B, N, dtype=torch.long)
    durations = torch.zeros(B, N, dtype=torch.long)
    for b, n in enumerate(text_lengths):
        phone_ids[b, :n] = torch.tensor(seen)[torch.randint(len(seen), (n,), generator=g)]
        durations[b, :n] = torch.randint(1, 2 * frames_per_phone, (n,), generator=g)
    mel_lengths = durations.sum(-1)
    M = int(mel_lengths.max())
    mels = torch.randn(B, M, N_MELS, generator=g)
    pitch = torch.randn(B, M, generator=g)
    pitch[torch.rand(B, M, generator=g) < 0.3] = 0.0  # unvoiced frames
    energy = torch.randn(B, M, generator=g)
    for b, m in enumerate(mel_lengths.tolist()):
        mels[b, m:] = float("nan")
        pitch[b, m:] = 7.0
        energy[b, m:] = -7.0
    return dict(phone_ids=phone_ids, text_lengths=torch.tensor(text_lengths), mels=mels, mel_lengths=mel_lengths,
                pitch=pitch, energy=energy, language_ids=torch.arange(B) % n_languages,
                speaker_ids=(torch.arange(B) + 1) % n_speakers), durations


def item(batch: dict, durations: torch.Tensor, b: int):
    """Item ``b`` of a padded batch, cropped to its own lengths (a batch of one)."""
    n, m = int(batch["text_lengths"][b]), int(batch["mel_lengths"][b])
    one = dict(phone_ids=batch["phone_ids"][b:b + 1, :n], text_lengths=batch["text_lengths"][b:b + 1],
               mels=batch["mels"][b:b + 1, :m], mel_lengths=batch["mel_lengths"][b:b + 1],
               pitch=batch["pitch"][b:b + 1, :m], energy=batch["energy"][b:b + 1, :m],
               language_ids=batch["language_ids"][b:b + 1], speaker_ids=batch["speaker_ids"][b:b + 1])
    return one, durations[b:b + 1, :n]


def infer_args(batch: dict) -> dict:
    return {k: batch[k] for k in ("phone_ids", "text_lengths", "language_ids", "speaker_ids")}


# -- forward / backward / inference ------------------------------------------------------------------
@pytest.mark.parametrize("n_languages,n_speakers", [(1, 1), (1, 4), (3, 1), (3, 4)])
def test_forward_backward_inference(table, n_languages, n_speakers):
    model = make_model(table, n_languages=n_languages, n_speakers=n_speakers)
    batch, durations = make_batch(table, n_languages=n_languages, n_speakers=n_speakers)
    B, N = batch["phone_ids"].shape
    M = batch["mels"].shape[1]
    out = model(**batch, output_hidden_states=True)  # durations from the aligner (MAS)
    assert isinstance(out, AcousticOutput)
    assert set(out.losses) == set(LOSS_NAMES)
    assert all(torch.isfinite(v) and v.ndim == 0 for v in out.losses.values())
    assert out.losses["forward_sum"] > 0 and out.losses["bin"] > 0
    assert out.mel.shape == (B, M, N_MELS) and torch.isfinite(out.mel).all()
    for logits in (out.duration_logits, out.pitch_logits, out.energy_logits):
        assert logits.shape == (B, N, model.config.n_bins)
    assert torch.equal(out.durations.sum(-1), batch["mel_lengths"])
    assert out.attn_soft.shape == out.attn_hard.shape == (B, M, N)
    assert len(out.encoder_hidden_states) == model.config.encoder_layers
    assert len(out.decoder_hidden_states) == model.config.decoder_layers
    assert out.encoder_hidden_states[0].shape == (B, N, model.config.hidden)
    assert out.decoder_hidden_states[0].shape == (B, M, model.config.hidden)
    out.loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values()), \
        [n for n, g in grads.items() if g is None]
    # Conditioning reaches the loss: the used rows of both embedding tables get gradient.
    assert grads["condition.language.weight"].abs().sum() > 0 and grads["condition.speaker.weight"].abs().sum() > 0

    given = model(**batch, durations=durations)
    assert given.attn_soft is None and given.attn_hard is None and float(given.losses["forward_sum"]) == 0.0
    assert torch.equal(given.durations, durations)

    model.eval()
    res = model.inference(**infer_args(batch), output_hidden_states=True)
    assert res["mel"].shape[0] == B and res["mel"].shape[2] == N_MELS
    assert res["mel"].shape[1] == int(res["mel_lengths"].max())
    assert torch.equal(res["durations"].sum(-1), res["mel_lengths"])
    real = batch["phone_ids"] != 0
    assert (res["durations"][real] >= 1).all() and (res["durations"][~real] == 0).all()
    assert res["pitch"].shape == res["energy"].shape == (B, N)
    assert len(res["encoder_hidden_states"]) == model.config.encoder_layers
    slow = model.inference(**infer_args(batch), speed=0.5)
    assert (slow["mel_lengths"] > res["mel_lengths"]).all()


def test_conditioning_changes_output(table):
    model = make_model(table).eval()
    batch, durations = make_batch(table, text_lengths=(6,))
    base = model(**batch, durations=durations).mel
    for key in ("language_ids", "speaker_ids"):
        other = dict(batch, **{key: batch[key] + 1})
        assert not torch.allclose(model(**other, durations=durations).mel, base)


# -- masking ----------------------------------------------------------------------------------------
def test_padded_batch_equals_single_utterances(table):
    model = make_model(table).eval()
    batch, durations = make_batch(table)
    with torch.no_grad():
        out = model(**batch, durations=durations, output_hidden_states=True)
        mas_out = model(**batch)
        res = model.inference(**infer_args(batch), output_hidden_states=True)
        for b in range(batch["phone_ids"].shape[0]):
            one, dur = item(batch, durations, b)
            n, m = int(one["text_lengths"]), int(one["mel_lengths"])
            single = model(**one, durations=dur, output_hidden_states=True)
            torch.testing.assert_close(out.mel[b, :m], single.mel[0], atol=1e-5, rtol=1e-5)
            assert (out.mel[b, m:] == 0).all()
            for name in ("duration_logits", "pitch_logits", "energy_logits"):
                torch.testing.assert_close(getattr(out, name)[b, :n], getattr(single, name)[0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(out.pitch_target[b, :n], single.pitch_target[0])
            torch.testing.assert_close(out.encoder_hidden_states[-1][b, :n], single.encoder_hidden_states[-1][0],
                                       atol=1e-5, rtol=1e-5)
            # The aligner and MAS see the same thing padded or alone.
            single_mas = model(**one)
            assert torch.equal(mas_out.durations[b, :n], single_mas.durations[0])
            torch.testing.assert_close(mas_out.attn_soft[b, :m, :n], single_mas.attn_soft[0], atol=1e-5, rtol=1e-5)
            # Inference: same durations and the same mel up to the item's own length.
            alone = model.inference(**infer_args(one))
            assert torch.equal(res["durations"][b, :n], alone["durations"][0])
            k = int(alone["mel_lengths"][0])
            assert int(res["mel_lengths"][b]) == k
            torch.testing.assert_close(res["mel"][b, :k], alone["mel"][0], atol=1e-5, rtol=1e-5)
            assert (res["mel"][b, k:] == 0).all()


def test_nan_padding_and_bad_durations(table):
    model = make_model(table)
    batch, durations = make_batch(table)  # mel padding is NaN
    out = model(**batch)
    assert torch.isfinite(out.loss)
    bad = durations.clone()
    bad[0, 0] += 1
    with pytest.raises(ValueError, match="sum to"):
        model(**batch, durations=bad)
    short = dict(batch, mel_lengths=torch.tensor([3, 3, 3]))
    with pytest.raises(ValueError, match="batch item 0"):
        model(**short)  # 3 frames cannot cover 9 phones


# -- monotonic alignment search ---------------------------------------------------------------------
def _check_durations(d: np.ndarray, T_mel: int, T_text: int):
    assert d.shape == (T_text,) and d.dtype == np.int64
    assert (d >= 1).all() and d.sum() == T_mel


def test_mas_random_monotonic():
    rng = np.random.default_rng(0)
    for T_mel, T_text in [(1, 1), (5, 5), (40, 7), (123, 31)]:
        d = mas(np.log(rng.dirichlet(np.ones(T_text), size=T_mel)))
        _check_durations(d, T_mel, T_text)


def test_mas_planted_diagonal():
    true = np.array([3, 1, 5, 2, 7, 4, 1])
    T_mel, T_text = int(true.sum()), len(true)
    lp = np.full((T_mel, T_text), -5.0)
    lp[np.arange(T_mel), np.repeat(np.arange(T_text), true)] = 0.0
    lp += np.random.default_rng(1).normal(0, 0.1, lp.shape)  # noise far below the planted margin
    assert np.array_equal(mas(lp), true)
    assert np.array_equal(mas(torch.from_numpy(lp).float()), true)  # torch input too


def test_mas_is_optimal_on_small_cases():
    """Exhaustive search over every monotonic path agrees with MAS's score."""
    rng = np.random.default_rng(2)
    T_mel, T_text = 7, 3
    for _ in range(5):
        lp = rng.normal(size=(T_mel, T_text))
        best = max(sum(lp[t, j] for t, j in enumerate(np.repeat(np.arange(T_text), d)))
                   for d in itertools.product(range(1, T_mel + 1), repeat=T_text) if sum(d) == T_mel)
        d = mas(lp)
        assert np.isclose(sum(lp[t, j] for t, j in enumerate(np.repeat(np.arange(T_text), d))), best)


def test_mas_rejects_too_few_frames():
    with pytest.raises(ValueError, match="cannot cover"):
        mas(np.zeros((2, 3)))


def test_beta_binomial_prior_is_a_distribution():
    lp = beta_binomial_log_prior(torch.tensor([5, 3]), torch.tensor([12, 7]), 5, 12)
    p = lp.exp()
    torch.testing.assert_close(p[0].sum(-1), torch.ones(12))
    torch.testing.assert_close(p[1, :7, :3].sum(-1), torch.ones(7))
    assert p[0, 0].argmax() == 0 and p[0, -1].argmax() == 4  # starts at the first phone, ends at the last


def test_two_hot_bins_keep_the_value():
    bins = Bins(-4.0, 4.0, 16)
    values = torch.tensor([-4.0, -1.234, 0.0, 2.5, 4.0])
    target = bins.two_hot(values)
    torch.testing.assert_close(target.sum(-1), torch.ones(5))
    torch.testing.assert_close(target @ bins.centres("cpu"), values)


# -- persistence, determinism, features ----------------------------------------------------------------
def test_save_load_identical(table, tmp_path):
    model = make_model(table).eval()
    batch, durations = make_batch(table)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "config.json").exists()
    assert not list(tmp_path.glob("*.bin")) and not list(tmp_path.glob("*.pt"))
    loaded = AcousticModel.from_pretrained(tmp_path).eval()
    assert loaded.config.language_names == model.config.language_names
    assert loaded.config.speaker_names == model.config.speaker_names
    assert loaded.config.pitch_range == model.config.pitch_range
    with torch.no_grad():
        a, b = model(**batch, durations=durations), loaded(**batch, durations=durations)
        assert torch.equal(a.mel, b.mel) and torch.equal(a.loss, b.loss)
        ra, rb = model.inference(**infer_args(batch)), loaded.inference(**infer_args(batch))
    assert torch.equal(ra["mel"], rb["mel"]) and torch.equal(ra["durations"], rb["durations"])


def test_deterministic_given_seed(table):
    batch, durations = make_batch(table)
    losses = [make_model(table, seed=3)(**batch).loss.item() for _ in range(2)]
    assert losses[0] == losses[1]
    assert make_model(table, seed=4)(**batch).loss.item() != losses[0]


def test_overfit_two_utterances(table):
    torch.manual_seed(0)
    model = make_model(table, n_languages=1, n_speakers=1)
    batch, _ = make_batch(table, text_lengths=(8, 5), n_languages=1, n_speakers=1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for _ in range(50):
        out = model(**batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        history.append({k: v.item() for k, v in out.losses.items()} | {"loss": out.loss.item()})
    first, last = history[0], np.mean([h["loss"] for h in history[-5:]])
    assert last < 0.6 * first["loss"], (first, history[-1])
    assert history[-1]["mel"] < 0.7 * first["mel"]
    assert history[-1]["forward_sum"] < first["forward_sum"]


def test_unseen_phone_gets_feature_embedding(table):
    model = make_model(table).eval()
    emb = model.embed(torch.tensor([[0, table.id(UNSEEN), table.id("b"), table.id("a")]]))[0]
    pad, unseen, b, a = emb
    assert not torch.allclose(unseen, pad)
    # ɓ (implosive b) is closer to b than to a through its features alone: zero its learned id rows.
    with torch.no_grad():
        model.embed.ids.weight.zero_()
    pad, unseen, b, a = model.embed(torch.tensor([[0, table.id(UNSEEN), table.id("b"), table.id("a")]]))[0]
    assert unseen.abs().sum() > 0 and not torch.allclose(unseen, pad)
    assert torch.dist(unseen, b) < torch.dist(unseen, a)


def test_phone_features_kept_exactly_through_training_and_loading(table, tmp_path):
    expected = torch.from_numpy(table.feature_matrix())
    model = make_model(table)
    assert "embed.phone_features" not in dict(model.named_parameters())
    batch, durations = make_batch(table)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        model(**batch, durations=durations).loss.backward()
        opt.step()
    assert torch.equal(model.embed.phone_features, expected)
    model.save_pretrained(tmp_path)
    loaded = AcousticModel.from_pretrained(tmp_path)
    assert torch.equal(loaded.embed.phone_features, expected)
    assert loaded.config.phone_features == table.feature_matrix().tolist()


def test_bf16_autocast_runs(table):
    model = make_model(table)
    batch, _ = make_batch(table)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(**batch)
    assert torch.isfinite(out.loss)
    out.loss.backward()


# -- config -------------------------------------------------------------------------------------------
def test_config_validation_and_presets(table):
    with pytest.raises(ConfigError, match="phone_features is required"):
        AcousticModel(AcousticConfig.preset("tiny", vocab_size=4))
    with pytest.raises(ConfigError, match="unknown acoustic model preset"):
        AcousticConfig.preset("huge")
    with pytest.raises(ConfigError, match="vocab_size"):
        AcousticModel(make_config(table, vocab_size=len(table) + 1))
    with pytest.raises(ConfigError, match="speaker_names"):
        AcousticModel(make_config(table, speaker_names=["only-one"]))
    n_params = sum(p.numel() for p in make_model(table).parameters())
    assert n_params < 300_000
