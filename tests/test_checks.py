"""``gpt2ft.core.checks``: a by-hand check raises on a planted mismatch, with both values."""

import pytest
import torch

from gpt2ft.core import checks


def test_agreeing_values_print_one_verdict_without_numbers(capsys):
    checks.same("logits by hand", torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0 + 1e-7]), atol=1e-5)
    checks.same("greedy tokens", [1, 2, 3], [1, 2, 3])
    checks.holds("pad token is EOS", True)
    assert capsys.readouterr().out.splitlines() == [
        "✔ logits by hand (within atol=1e-05, rtol=0)", "✔ greedy tokens", "✔ pad token is EOS"]


def test_a_planted_mismatch_raises_with_both_values_and_where():
    ours = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    theirs = ours.clone()
    theirs[1, 0] += 0.5
    with pytest.raises(checks.Mismatch, match=r"differ by up to 0\.5 \(at index \(1, 0\): 3 by hand, 3\.5"):
        checks.same("logits by hand", ours, theirs, atol=1e-4)
    with pytest.raises(AssertionError, match="shapes differ"):
        checks.same("logits", ours, ours[0])
    with pytest.raises(checks.Mismatch, match=r"by hand: \[1, 2\]\nlibrary: \[1, 3\]"):
        checks.same("tokens", [1, 2], [1, 3])
    with pytest.raises(checks.Mismatch, match="does not hold \\(3 of 4\\)"):
        checks.holds("every row", torch.tensor([True, True, True, False]), "3 of 4")
    with pytest.raises(checks.Mismatch):
        checks.same("a number", 1.0, float("nan"))


def test_selfcheck_hides_the_answer_until_it_is_right(capsys):
    from gpt2ft.session import selfcheck
    for answer in [None, 41, "42", 42.0004, " Paris"]:
        assert selfcheck.check(answer, 42 if answer != " Paris" else "Paris", why="it is 42",
                               hint="count again", tolerance=1e-3) is None  # Jupyter shows no False
    verdicts = capsys.readouterr().out.splitlines()
    assert verdicts[0].startswith("not answered yet")
    assert verdicts[1] == "✘ not yet: 41 is not it. Hint: count again"
    assert verdicts[2].startswith("✘ not yet: '42'")  # a string is not the number
    assert verdicts[3:] == ["✔ right. it is 42"] * 2


def test_a_wrong_worked_solution_stops_the_notebook(capsys):
    from gpt2ft.session import selfcheck
    selfcheck.solution(6 * 7, 42, why="six sevens")
    assert capsys.readouterr().out == "✔ right. six sevens\n"
    with pytest.raises(checks.Mismatch, match=r"answer 41 is not the expected 42"):
        selfcheck.solution(41, 42, why="six sevens")
    assert capsys.readouterr().out == ""  # no verdict printed for a wrong solution


def test_a_loop_by_hand_compared_in_one_process_raises_and_under_several_says_why(monkeypatch, capsys):
    from gpt2ft.training.compare import one_process_only
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(checks.Mismatch), one_process_only():
        checks.same("a loss", 1.0, 2.0)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with one_process_only():
        checks.same("a loss", 1.0, 1.0)
        checks.same("a loss", 1.0, 2.0)
        raise AssertionError("not reached: the first difference ends the comparison")
    out = capsys.readouterr().out
    assert out.startswith("✔ a loss") and "not compared under 2 processes" in out
    with pytest.raises(ValueError), one_process_only():  # anything but a difference still stops the script
        raise ValueError("a real error")
