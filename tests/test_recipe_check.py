"""`multikd check` on recipes: schema errors by dotted key, missing card, unknown language/preset/teacher."""
import shutil

from multikd.cli.main import main


def _recipe(folder, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipe.yaml").write_text(body, encoding="utf-8")
    return folder


def test_repo_recipes_load(repo, tmp_path, capsys):
    # The demo recipes point at out/demo/corpus, which exists only after rendering: copy them next to
    # a stand-in card so only their schemas and names are under test here.
    shutil.copytree(repo / "recipes", tmp_path / "recipes")
    card = tmp_path / "out" / "demo" / "corpus"
    card.mkdir(parents=True)
    (card / "README.md").write_text("---\n---\n")
    (tmp_path / "pretrained").symlink_to(repo / "pretrained")
    assert main(["check", str(tmp_path / "recipes")]) == 0, capsys.readouterr().out


def test_broken_recipes_report_what_and_where(tmp_path, capsys):
    bad = _recipe(tmp_path / "bad", "name: x\ndata: {card: nowhere.md, languages: [klingon]}\n"
                                    "model: {preset: huge}\n")
    typo = _recipe(tmp_path / "typo", "name: x\ndata: {card: c.md}\ntrian: {lr: 1}\n")
    teacher = _recipe(tmp_path / "teacher", "name: x\ndata: {card: c.md}\ndistill: {teacher: no/such/model}\n")
    assert main(["check", str(bad), str(typo), str(teacher)]) == 1
    out = capsys.readouterr().out
    assert "data.card 'nowhere.md' not found" in out
    assert "data.languages: unknown language 'klingon'" in out
    assert "model.preset 'huge' is unknown" in out
    assert "unknown key(s) trian" in out
    assert "distill.teacher 'no/such/model' is not a model folder" in out
