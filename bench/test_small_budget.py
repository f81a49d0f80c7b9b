"""bench/small_budget.py reads the runner's per-notebook lines and sums them against the budget."""

import small_budget

RUNNER = """== sprint12_book: 2 notebooks, profile small (asked for PROFILE=small)
-- 01_prepare_data.py ... 6.4 s -> sprints/sprint12_book/01_prepare_data.ipynb
-- 02_finetune.py ... 593.9 s -> sprints/sprint12_book/02_finetune.ipynb
"""


def test_the_runner_lines_are_parsed_and_the_worst_notebook_named():
    rows = small_budget.parse(RUNNER)
    assert rows == [("sprint12", "01_prepare_data.py", 6.4), ("sprint12", "02_finetune.py", 593.9)]
    text = small_budget.report(rows, {"sprint12": 610.0}, "test")
    assert "| sprint12 | 2 | 600 | 610 |" in text
    assert "Total 10.2 min for 2 notebooks (0.17 of the budget)" in text
    assert "longest sprint12 02_finetune.py at 9.9 min (0.99 of its limit)" in text
