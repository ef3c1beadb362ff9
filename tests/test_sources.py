"""Corpus formats: each loader on a tiny corpus built in tmp_path, column mapping, errors, the hub path."""
from __future__ import annotations

import json

import datasets
import numpy as np
import pytest
import soundfile as sf
import yaml

from multikd.data import sources
from multikd.data.cards import load_card, validate_card
from multikd.data.sources import CANONICAL, load_source, register_format
from multikd.errors import CorpusError

SR = 16000
SECTIONS = "".join(f"\n## {s}\ntext\n" for s in ("Summary", "Languages", "Fields", "Splits", "Source", "Limitations"))


def _wavs(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(SR // 10) / SR
    for i, name in enumerate(names):
        sf.write(folder / name, (0.1 * np.sin(2 * np.pi * (200 + 50 * i) * t)).astype("float32"), SR)
    return [str(folder / n) for n in names]


def _card(folder, source, columns, languages=("cat",)):
    """Write a valid card into ``folder`` and load it."""
    header = {
        "pretty_name": "tiny", "language": ["ca"], "license": "cc0-1.0", "task_categories": ["text-to-speech"],
        "size_categories": ["n<1K"],
        "multikd": {"languages": list(languages), "source": source, "columns": columns,
                    "recording_conditions": "synthetic sines", "consent": "not a person",
                    "personal_data": "none"},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.md"
    path.write_text(f"---\n{yaml.safe_dump(header, sort_keys=False)}---\n{SECTIONS}", encoding="utf-8")
    assert [str(p) for p in validate_card(path)] == []
    return load_card(path)


def _check_canonical(ds, n):
    assert ds.column_names[:5] == list(CANONICAL) and len(ds) == n
    assert ds.features["audio"] == datasets.Audio(decode=False)
    assert len(set(ds["id"])) == n
    row = ds[0]
    assert isinstance(row["audio"], dict) and (row["audio"]["bytes"] or row["audio"]["path"])
    assert all(isinstance(row[c], str) for c in ("id", "text", "speaker", "language"))


def test_hf_disk_dataset_with_mapping_and_missing_text(tmp_path):
    paths = _wavs(tmp_path / "wav", ["a.wav", "b.wav", "c.wav"])
    ds = datasets.Dataset.from_dict({"audio": paths, "sentence": ["bon dia", None, "adéu"],
                                     "spk": ["anna", "", "pau"], "id": [7, 7, 8]})
    ds.cast_column("audio", datasets.Audio()).save_to_disk(str(tmp_path / "corpus" / "disk"))
    card = _card(tmp_path / "corpus", {"format": "hf_disk", "path": "disk"},
                 {"audio": "audio", "text": "sentence", "speaker": "spk"})
    out = load_source(card)
    _check_canonical(out, 3)
    assert out["text"] == ["bon dia", "", "adéu"]  # the row without transcript is kept
    assert out["speaker"] == ["anna", card.name, "pau"]
    assert out["language"] == ["cat"] * 3
    assert out["id"] == ["a", "b", "c"] and out["source_id"] == [7, 7, 8]  # unmapped `id` kept aside
    assert out[0]["audio"]["bytes"][:4] == b"RIFF"  # save_to_disk embedded the audio


def test_hf_disk_dataset_dict_splits(tmp_path):
    paths = _wavs(tmp_path / "wav", ["a.wav", "b.wav"])
    dd = datasets.DatasetDict({s: datasets.Dataset.from_dict({"audio": [p], "text": [s]}).cast_column(
        "audio", datasets.Audio()) for s, p in zip(("train", "test"), paths)})
    dd.save_to_disk(str(tmp_path / "c" / "dd"))
    card = _card(tmp_path / "c", {"format": "hf_disk", "path": "dd"}, {"audio": "audio", "text": "text"})
    assert load_source(card, split="test")["text"] == ["test"]
    with pytest.raises(CorpusError, match="train, test"):
        load_source(card, split="dev")


def _demo_like_corpus(root):
    _wavs(root / "wavs", [f"u{i}.wav" for i in range(4)])
    rows = [dict(file_name=f"wavs/u{i}.wav", id=f"cat_ona_{i:04d}", text=["Bon dia.", "", "Adéu.", "Gràcies."][i],
                 language="cat", speaker="ona", engine="festival", voice="ona",
                 split="test" if i == 3 else "train", duration=0.1,
                 ref_alignment=[{"phone": "b", "start": 0.0, "end": 0.05}]) for i in range(4)]
    (root / "metadata.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def test_audiofolder_metadata_jsonl_split_and_passthrough(tmp_path):
    root = tmp_path / "demo"
    _demo_like_corpus(root)
    card = _card(root, {"format": "audiofolder", "path": "."},
                 {"audio": "audio", "text": "text", "id": "id", "speaker": "speaker", "language": "language"})
    train = load_source(card, split="train")
    _check_canonical(train, 3)
    assert train["id"] == ["cat_ona_0000", "cat_ona_0001", "cat_ona_0002"]
    assert train["text"][1] == "" and set(train["split"]) == {"train"}
    assert {"engine", "voice", "duration", "ref_alignment"} <= set(train.column_names)
    assert train[0]["ref_alignment"] == [{"phone": "b", "start": 0.0, "end": 0.05}]
    assert train[0]["audio"]["path"] == str(root / "wavs" / "u0.wav")
    assert len(load_source(card)) == 4  # no split asked: every row
    with pytest.raises(CorpusError, match="test, train"):
        load_source(card, split="validation")


def test_audiofolder_csv_in_split_folder(tmp_path):
    root = tmp_path / "af"
    _wavs(root / "train", ["x.wav", "y.wav"])
    (root / "train" / "metadata.csv").write_text('file_name,transcription\nx.wav,"hola, món"\ny.wav,\n', "utf-8")
    card = _card(root, {"format": "audiofolder", "path": "."}, {"audio": "audio", "text": "transcription"})
    out = load_source(card, split="train")
    assert out["text"] == ["hola, món", ""] and out["id"] == ["x", "y"]


def test_ljspeech(tmp_path):
    root = tmp_path / "LJ"
    _wavs(root / "wavs", ["LJ001-0001.wav", "LJ001-0002.wav", "LJ001-0003.wav"])
    (root / "metadata.csv").write_text(
        "LJ001-0001|Printing, in 1 sense|Printing, in one sense\nLJ001-0002|\nLJ001-0003|Dr. Who|Doctor Who\n", "utf-8")
    card = _card(root, {"format": "ljspeech", "path": "."}, {"audio": "audio", "text": "normalized_text", "id": "id"})
    out = load_source(card)
    _check_canonical(out, 3)
    assert out["text"] == ["Printing, in one sense", "", "Doctor Who"]
    assert out["source_text"] == ["Printing, in 1 sense", "", "Dr. Who"]


def test_csv_and_tsv_with_split_placeholder_and_audio_dir(tmp_path, monkeypatch):
    data = tmp_path / "cv" / "ca"
    _wavs(data / "clips", ["c1.wav", "c2.wav", "c3.wav"])
    (data / "train.tsv").write_text('client_id\tpath\tsentence\tlocale\nabc\tc1.wav\t"Quin" dia\tca\n'
                                    'abc\tc2.wav\t\tca\n', "utf-8")
    (data / "test.tsv").write_text("client_id\tpath\tsentence\tlocale\ndef\tc3.wav\tAdéu\tca\n", "utf-8")
    monkeypatch.setenv("MULTIKD_DATA", str(tmp_path))
    card = _card(tmp_path / "cards", {"format": "csv", "path": "$MULTIKD_DATA/cv/ca/{split}.tsv", "audio_dir": "clips"},
                 {"audio": "path", "text": "sentence", "speaker": "client_id"})
    train = load_source(card, split="train")
    _check_canonical(train, 2)
    assert train["text"] == ['"Quin" dia', ""] and train["speaker"] == ["abc", "abc"]
    assert train["locale"] == ["ca", "ca"]
    assert load_source(card, split="test")["speaker"] == ["def"]

    (tmp_path / "list.csv").write_text('file,words\ncv/ca/clips/c1.wav,"un, dos"\n', "utf-8")
    card = _card(tmp_path, {"format": "csv", "path": "list.csv"}, {"audio": "file", "text": "words"})
    assert load_source(card)["text"] == ["un, dos"]


def test_festvox(tmp_path):
    root = tmp_path / "CEBRPV" / "aligned"
    _wavs(root / "wav", ["B01___01_a_001.wav", "B01___01_a_002.wav"])
    (root / "etc").mkdir()
    (root / "etc" / "txt.done.data").write_text(
        '( B01___01_a_001 "Ang \\"libro\\" sa kagikan" 4.21 )\n( B01___01_a_002 "" nan )\n', "utf-8")
    card = _card(tmp_path, {"format": "festvox", "path": "CEBRPV/aligned"},
                 {"audio": "audio", "text": "text", "id": "id"}, languages=("ceb",))
    out = load_source(card)
    _check_canonical(out, 2)
    assert out["text"] == ['Ang "libro" sa kagikan', ""] and out["score"][0] == pytest.approx(4.21)


def test_missing_column_names_card_column_and_available_columns(tmp_path):
    paths = _wavs(tmp_path / "wav", ["a.wav"])
    datasets.Dataset.from_dict({"audio": paths, "sentence": ["x"]}).save_to_disk(str(tmp_path / "c" / "d"))
    card = _card(tmp_path / "c", {"format": "hf_disk", "path": "d"}, {"audio": "audio", "text": "transcript"})
    with pytest.raises(CorpusError) as e:
        load_source(card)
    msg = str(e.value)
    assert "'tiny'" in msg and "'transcript'" in msg and "audio, sentence" in msg
    assert e.value.where == card.where("multikd.columns.text")


def test_missing_files_and_unset_variables(tmp_path, monkeypatch):
    card = _card(tmp_path, {"format": "ljspeech", "path": "nowhere"}, {"audio": "audio", "text": "text"})
    with pytest.raises(CorpusError, match="not found"):
        load_source(card)
    (tmp_path / "lj").mkdir()
    (tmp_path / "lj" / "metadata.csv").write_text("a|x\nb|y\n", "utf-8")
    card = _card(tmp_path, {"format": "ljspeech", "path": "lj"}, {"audio": "audio", "text": "text"})
    with pytest.raises(CorpusError, match="none of the 2 audio files"):
        load_source(card)
    monkeypatch.delenv("NO_SUCH_MULTIKD_VAR", raising=False)
    card = _card(tmp_path, {"format": "csv", "path": "$NO_SUCH_MULTIKD_VAR/x.csv"}, {"audio": "a", "text": "t"})
    with pytest.raises(CorpusError, match="environment variable"):
        load_source(card)


def test_ids_are_unique_and_labels_become_names(tmp_path):
    paths = _wavs(tmp_path / "wav", ["a.wav", "b.wav", "c.wav"])
    feats = datasets.Features({"audio": datasets.Value("string"), "text": datasets.Value("string"),
                               "sent": datasets.Value("int32"), "lang": datasets.ClassLabel(names=["cat", "spa"])})
    datasets.Dataset.from_dict({"audio": paths, "text": ["a", "b", "c"], "sent": [1, 1, 2], "lang": [0, 1, 0]},
                               features=feats).save_to_disk(str(tmp_path / "c" / "d"))
    card = _card(tmp_path / "c", {"format": "hf_disk", "path": "d"},
                 {"audio": "audio", "text": "text", "id": "sent", "language": "lang"}, languages=("cat", "spa"))
    out = load_source(card)
    assert out["id"] == ["1", "1_2", "2"] and out["language"] == ["cat", "spa", "cat"]


def test_hub_unreachable_becomes_corpus_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # read at import: set the live value too
    card = _card(tmp_path, {"format": "hf", "id": "multikd-test/no-such-corpus-4711", "config": "xx"},
                 {"audio": "audio", "text": "text"})
    with pytest.raises(CorpusError) as e:
        load_source(card)
    msg = str(e.value)
    assert "unreachable" in msg and "save_to_disk" in msg and "hf_disk" in msg
    assert e.value.where == card.where("multikd.source.id")


def test_hub_arguments_are_passed_and_no_remote_code(tmp_path, monkeypatch):
    paths = _wavs(tmp_path / "wav", ["a.wav"])
    calls = []

    def fake_load_dataset(*args, **kwargs):
        calls.append((args, kwargs))
        return datasets.Dataset.from_dict({"audio": paths, "raw_transcription": ["Hola"]}).cast_column(
            "audio", datasets.Audio(sampling_rate=SR))

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    card = _card(tmp_path, {"format": "hf", "id": "google/fleurs", "revision": "refs/convert/parquet",
                            "data_dir": "ca_es", "split": "train"}, {"audio": "audio", "text": "raw_transcription"})
    out = load_source(card, split="validation")
    assert calls == [(("google/fleurs", None), {"split": "validation", "revision": "refs/convert/parquet",
                                                "data_dir": "ca_es"})]
    assert out["text"] == ["Hola"] and out.features["audio"] == datasets.Audio(decode=False)


def test_registered_format_is_validated_and_loaded(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "_FORMATS", dict(sources._FORMATS))
    paths = _wavs(tmp_path / "wav", ["a.wav"])

    @register_format("toy", required=("path",), optional=())
    def _toy(card, split, base):
        return datasets.Dataset.from_dict({"wav": paths, "words": [(base / card.source.path).name]})

    card = _card(tmp_path, {"format": "toy", "path": "hello"}, {"audio": "wav", "text": "words"})
    assert load_source(card)["text"] == ["hello"]
