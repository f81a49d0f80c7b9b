"""The Hugging Face hub's copies of our data sets, in the hub's own schemas, built at test time.

Each builder reads the raw files below ``root`` (the real ``../shared/data`` or the
bundled samples, which share its layout) with its own small parser, not the
loaders', and returns a ``datasets.DatasetDict`` shaped as ``load_dataset(<hub
name>)`` returns it: the hub's split names, column names, dtypes, ``ClassLabel``
names, unlabelled splits (label -1) and the blanks the hub copies add to texts.
Nothing is written to disk; nothing of the data is committed.

The schemas, from the hub's dataset cards (``dataset_info``):

- ``stanfordnlp/sst2``: train 67,349 / validation 872 / test 1,821 (unlabelled);
  ``idx`` int32, ``sentence`` string (GLUE's text plus a trailing space), ``label``
  ClassLabel ['negative', 'positive'].
- ``stanfordnlp/imdb``: train 25,000 / test 25,000 / unsupervised 50,000 (label -1);
  ``text`` string (``<br />`` tags kept), ``label`` ClassLabel ['neg', 'pos'].
- ``ucirvine/sms_spam``: train 5,574; ``sms`` string (each message ends in "\\n"),
  ``label`` ClassLabel ['ham', 'spam'].
- ``tatsu-lab/alpaca`` and ``vicgalle/alpaca-gpt4``: train 52,002; ``instruction``,
  ``input`` ("" for none), ``output`` and ``text`` (the Alpaca prompt, filled in), all strings.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import datasets
from datasets import ClassLabel, Features, Value

SST2 = Features({"idx": Value("int32"), "sentence": Value("string"),
                 "label": ClassLabel(names=["negative", "positive"])})
IMDB = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
SMS = Features({"sms": Value("string"), "label": ClassLabel(names=["ham", "spam"])})
ALPACA = Features({column: Value("string") for column in ("instruction", "input", "output", "text")})
UNLABELLED = -1  # the hub's label for a split without labels

# The Stanford Alpaca prompt the hub's `text` column holds (with and without an input).
PROMPT = ("Below is an instruction that describes a task{also}. Write a response that "
          "appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n{input}"
          "### Response:\n{output}")


def _table(columns: dict[str, list], features: Features) -> datasets.Dataset:
    return datasets.Dataset.from_dict(columns, features=features)


def _tsv(path: Path, skip_header: bool) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = [row for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if row]
    return rows[1:] if skip_header else rows


def sst2_hub(root: Path) -> datasets.DatasetDict:
    """GLUE SST-2 as the hub has it; the test split (unlabelled) is stood in for by dev sentences."""
    def split(rows: list[list[str]], labelled: bool = True) -> datasets.Dataset:
        return _table({"idx": list(range(len(rows))),
                       "sentence": [sentence + " " for sentence, _ in rows],
                       "label": [int(label) if labelled else UNLABELLED for _, label in rows]},
                      SST2)

    dev = _tsv(root / "sst2" / "dev.tsv", skip_header=True)
    return datasets.DatasetDict({"train": split(_tsv(root / "sst2" / "train.tsv", True)),
                                 "validation": split(dev),
                                 "test": split(dev[::-1], labelled=False)})


def imdb_hub(root: Path) -> datasets.DatasetDict:
    """The IMDB sample's rows shared out over the hub's train and test; a few unsupervised."""
    with open(root / "imdb" / "imdb_reviews_small.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))[1:]

    def split(part: list[list[str]], labelled: bool = True) -> datasets.Dataset:
        return _table({"text": [text for text, _ in part],
                       "label": [int(label) if labelled else UNLABELLED for _, label in part]},
                      IMDB)

    return datasets.DatasetDict({"train": split(rows[0::2]), "test": split(rows[1::2]),
                                 "unsupervised": split(rows[:10], labelled=False)})


def sms_hub(root: Path, only: str | None = None) -> datasets.DatasetDict:
    """The SMS Spam Collection as the hub has it (``only="ham"`` keeps one class)."""
    rows = [(label, text) for label, text in _tsv(root / "sms_spam" / "SMSSpamCollection", False)
            if only in (None, label)]
    label = SMS["label"]
    return datasets.DatasetDict({"train": _table(
        {"sms": [text + "\n" for _, text in rows], "label": [label.str2int(n) for n, _ in rows]},
        SMS)})


def alpaca_hub(path: Path) -> datasets.DatasetDict:
    """An Alpaca-format JSON file as tatsu-lab/alpaca (and vicgalle/alpaca-gpt4) have it."""
    records = json.loads(path.read_text(encoding="utf-8"))
    columns = {name: [r.get(name) or "" for r in records] for name in ("instruction", "input", "output")}
    columns["text"] = [_prompt(r) for r in records]
    return datasets.DatasetDict({"train": _table(columns, ALPACA)})


def _prompt(record: dict) -> str:
    given = record.get("input") or ""
    return PROMPT.format(also=", paired with an input that provides further context" if given else "",
                         instruction=record["instruction"],
                         input=f"### Input:\n{given}\n\n" if given else "", output=record["output"])


def serve(monkeypatch, tables: dict[str, datasets.DatasetDict]) -> list[str]:
    """Make ``datasets.load_dataset(name)`` return ``tables[name]``; the names asked for, in order."""
    calls = []

    def load_dataset(name, *args, **kwargs):
        calls.append(name)
        if name not in tables:
            raise ConnectionError("offline")
        return tables[name]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls
