import json
import subprocess
import sys

from multikd.cli.main import main


def test_help_lists_every_command_with_one_line():
    out = subprocess.run([sys.executable, "-m", "multikd.cli.main", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for cmd in ("g2p", "phones", "check"):
        assert f"    {cmd} " in out


def test_g2p_json(capsys):
    assert main(["g2p", "--lang", "spa", "--json", "el perro"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["text"] == "el perro" and d["language"] == "spa"
    assert d["phones"] == ["ˈ", "e", "l", "#", "p", "ˈ", "e", "r", "o"]
    assert [w["word"] for w in d["words"]] == ["el", "perro"]


def test_g2p_errors_exit_nonzero_but_other_inputs_still_print(capsys):
    assert main(["g2p", "--lang", "eng", "good", "bad 🐶"]) == 2
    cap = capsys.readouterr()
    assert cap.out.strip() == "ɡ ˈ ʊ d"
    assert "input 2" in cap.err and "U+1F436" in cap.err


def test_unknown_language_exit_code(capsys):
    assert main(["g2p", "--lang", "klingon", "x"]) == 2
    assert "unknown language 'klingon'" in capsys.readouterr().err


def test_phones_against_table_reports_unseen_with_nearest(tmp_path, capsys):
    table = tmp_path / "t.json"
    assert main(["phones", "--lang", "spa", "--write", str(table)]) == 0
    capsys.readouterr()
    assert main(["phones", "--lang", "swa", "--against", str(table), "--json",
                 "--merge-into", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    report = json.loads(out.splitlines()[0])
    unseen = {u["phone"]: u for u in report["unseen"]}
    assert "ɓ" in unseen and unseen["ɓ"]["nearest"][0]["phone"] == "b"
    old = json.loads(table.read_text())["symbols"]
    new = json.loads((tmp_path / "m.json").read_text())["symbols"]
    assert new[: len(old)] == old and "ɓ" in new[len(old):]
