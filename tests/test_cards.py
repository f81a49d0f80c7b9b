"""The cards' key results are generated from the committed result files (gpt2ft.tools.cards)."""

from pathlib import Path

import pytest

from gpt2ft.tools import cards

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("sprint", sorted(cards.CARDS))
def test_each_committed_block_is_what_the_committed_files_give(sprint):
    new = cards.block(sprint, ROOT)
    for path in cards.targets(sprint, ROOT):
        text = path.read_text(encoding="utf-8")
        assert cards.with_block(text, new, path) == text, (
            f"{path.relative_to(ROOT)}: its results block is not what results/ gives; run `make cards`")


def test_every_sprint_has_a_card_in_the_generator():
    folders = {c.folder for c in cards.CARDS.values()}
    assert folders == {p.parent.name for p in (ROOT / "sprints").glob("sprint*_*/README.md")}


def _fake_repo(tmp_path: Path, value: str = "0.84751") -> tuple[Path, cards.Card]:
    (tmp_path / "results" / "s" / "small").mkdir(parents=True)
    (tmp_path / "results" / "s" / "small" / "scores.csv").write_text(
        f"model,accuracy,rows\nours,{value},\"1,000\"\nbaseline,0.7225,1872\n")
    folder = tmp_path / "sprints" / "s_x"
    (folder / "notes").mkdir(parents=True)
    for path in (folder / "README.md", folder / "notes" / "findings.md"):
        path.write_text(f"# Card\n\nbefore\n{cards.BEGIN}\nold text\n{cards.END}\nafter\n")
    card = cards.Card(
        folder="s_x", results="results/s/small", intro="a test",
        parts=(cards.Table("Scores", "scores.csv", ("ours", "baseline"), {"accuracy": ".3f", "rows": ",.0f"}, "04_x"),
               cards.Line("ours against the baseline", "{a} against {b}",
                          {"a": cards.Cell("scores.csv", "ours", "accuracy", ".4f"),
                           "b": cards.Cell("scores.csv", "baseline", "accuracy", ".4f")}, "04_x")))
    return tmp_path, card


def test_write_fills_the_block_and_check_finds_a_changed_file(tmp_path, monkeypatch):
    root, card = _fake_repo(tmp_path)
    monkeypatch.setattr(cards, "CARDS", {"s": card})
    assert cards.outdated(root) == cards.targets("s", root)  # the placeholder is out of date
    assert cards.write(root) == cards.targets("s", root)
    text = (root / "sprints/s_x/README.md").read_text()
    assert text.startswith("# Card\n\nbefore\n" + cards.BEGIN) and text.endswith(cards.END + "\nafter\n")
    assert "| ours | 0.848 | 1,000 |" in text and "| baseline | 0.723 | 1,872 |" in text
    assert "| ours against the baseline | 0.8475 against 0.7225 | `scores.csv` (`04_x`) |" in text
    assert cards.outdated(root) == [] and cards.write(root) == []  # a second run changes nothing
    (root / "results/s/small/scores.csv").write_text("model,accuracy,rows\nours,0.9,1\nbaseline,0.7,1\n")
    assert cards.outdated(root) == cards.targets("s", root)  # a re-run's numbers: the cards are stale


def test_a_missing_cell_or_marker_stops_with_what_is_there(tmp_path, monkeypatch):
    root, card = _fake_repo(tmp_path)
    gone = cards.Card(folder="s_x", results="results/s/small", intro="",
                      parts=(cards.Line("x", "{a}", {"a": cards.Cell("scores.csv", "theirs", "accuracy")}, "04_x"),))
    monkeypatch.setattr(cards, "CARDS", {"s": gone})
    with pytest.raises(cards.CardError, match=r"'theirs'.*there: \('ours',\), \('baseline',\)"):
        cards.write(root)
    column = cards.Card(folder="s_x", results="results/s/small", intro="",
                        parts=(cards.Line("x", "{a}", {"a": cards.Cell("scores.csv", "ours", "f1")}, "04_x"),))
    monkeypatch.setattr(cards, "CARDS", {"s": column})
    with pytest.raises(cards.CardError, match="no column 'f1'"):
        cards.write(root)
    monkeypatch.setattr(cards, "CARDS", {"s": card})
    (root / "sprints/s_x/README.md").write_text("# Card without markers\n")
    with pytest.raises(cards.CardError, match="0 results blocks"):
        cards.write(root)


def test_numbers_are_formatted_with_a_true_minus_sign():
    assert cards.fmt_value("-0.827", ".2f") == "−0.83"
    assert cards.fmt_value("134516160", ",.0f") == "134,516,160"
    assert cards.fmt_value("'.\\n\\nBRUTUS:\\n'", ".2f") == "'.\\n\\nBRUTUS:\\n'"  # text stays text
