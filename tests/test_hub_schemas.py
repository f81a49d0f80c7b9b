"""The hub branch of the loaders against the hub's own schemas (tests/hub_fixtures.py).

At full profile without DATA_DIR the loaders call ``datasets.load_dataset(<hub
name>)``; here it returns copies built from the raw files in the hub's schemas, so
a schema slip (a split, a column, the label order, a blank the hub adds) fails here
and not in a user's run. Each hub load is compared with a DATA_DIR load of the
same files: the notebooks must get the same texts and labels either way. Every test
runs on the bundled samples and, where ../shared/data exists, on the real files.
"""

import datasets
import hub_fixtures as hub
import pytest
from data_helpers import REAL_DATA, full, split_rows
from data_helpers import offline as offline  # autouse: a fresh cache per test, no network

from gpt2ft.core.paths import SAMPLES_DIR
from gpt2ft.session.data import clean_html, load_classification, load_instructions


@pytest.fixture(params=["samples", "real"])
def root(request):
    """The raw files to build the hub copies from: the bundled samples, or the real sets."""
    if request.param == "samples":
        return SAMPLES_DIR
    if not (REAL_DATA / "README.md").is_file():
        pytest.skip(f"real data sets not found at {REAL_DATA} (../shared/data beside the checkout)")
    return REAL_DATA


@pytest.mark.parametrize(("name", "hub_name", "build"), [
    ("sst2", "stanfordnlp/sst2", hub.sst2_hub), ("sms_spam", "ucirvine/sms_spam", hub.sms_hub)])
def test_hub_gives_what_data_dir_gives(monkeypatch, root, name, hub_name, build):
    calls = hub.serve(monkeypatch, {hub_name: build(root)})
    online = load_classification(name, full(seed=3))
    local = load_classification(name, full(seed=3, data_dir=root))
    assert calls == [hub_name] and online.source == f"Hugging Face hub {hub_name}"
    assert split_rows(online) == split_rows(local)  # texts (blanks and all), labels, order
    assert online.label_names == local.label_names
    assert online.train.features == local.train.features


def test_hub_sst2_keeps_label_order_and_leaves_the_unlabelled_test(monkeypatch, root):
    tables = hub.sst2_hub(root)
    hub.serve(monkeypatch, {"stanfordnlp/sst2": tables})
    data = load_classification("sst2", full())
    validation = tables["validation"]
    # Our test is the hub's validation (GLUE dev), row for row, label 1 = "positive".
    assert list(data.test["text"]) == [s.removesuffix(" ") for s in validation["sentence"]]
    names = [data.test.features["label"].int2str(v) for v in data.test["label"]]
    assert names == [validation.features["label"].int2str(v) for v in validation["label"]]
    assert "hub's 'validation' split" in data.split_note
    assert len(data.train) + len(data.validation) == len(tables["train"])


def test_hub_imdb_uses_its_test_not_unsupervised(monkeypatch, root):
    tables = hub.imdb_hub(root)
    hub.serve(monkeypatch, {"stanfordnlp/imdb": tables})
    data = load_classification("imdb", full())
    hub_test = tables["test"]
    assert list(data.test["text"]) == list(hub_test["text"])
    assert "hub's 'test' split" in data.split_note
    pool = [*data.train["text"], *data.validation["text"]]
    assert sorted(pool) == sorted(tables["train"]["text"])
    by_text = {t: hub_test.features["label"].int2str(v) for t, v in zip(hub_test["text"],
                                                                       hub_test["label"],
                                                                       strict=True)}
    ours = {"neg": "negative", "pos": "positive"}
    assert all(ours[by_text[t]] == data.test.features["label"].int2str(v)
               for t, v in zip(data.test["text"], data.test["label"], strict=True))
    assert set().union(*(split["label"] for split in data.splits.values())) == {0, 1}
    cleaned = data.model_texts()["test"]["text"]
    assert list(cleaned) == [clean_html(t) for t in hub_test["text"]]


@pytest.mark.parametrize(("name", "hub_name"), [("alpaca", "tatsu-lab/alpaca"),
                                                ("alpaca-gpt4", "vicgalle/alpaca-gpt4")])
def test_hub_instructions_give_what_the_file_gives(monkeypatch, tmp_path, root, name, hub_name):
    path = root / "alpaca_instruction" / "instruction-data.json"
    calls = hub.serve(monkeypatch, {hub_name: hub.alpaca_hub(path)})
    online = load_instructions(name, full(), on_invalid="raise")
    local = load_instructions(path, full(), on_invalid="raise")
    assert calls == [hub_name] and online.source == f"Hugging Face hub {hub_name}"
    assert online.records == local.records and online.problems == []


# --- schema slips are refused, with the hub's own names in the message ----------------------

def _sst2_with_labels(tables, feature):
    return datasets.DatasetDict({split: table.cast_column("label", feature)
                                 for split, table in tables.items()})


@pytest.mark.parametrize(("feature", "found"), [
    (datasets.ClassLabel(names=["positive", "negative"]), "names=['positive', 'negative']"),
    (datasets.Value("int64"), "Value('int64')")])
def test_hub_label_order_must_be_ours(monkeypatch, feature, found):
    tables = _sst2_with_labels(hub.sst2_hub(SAMPLES_DIR), feature)
    hub.serve(monkeypatch, {"stanfordnlp/sst2": tables})
    with pytest.raises(ValueError) as err:
        load_classification("sst2", full())
    text = str(err.value)
    assert "stanfordnlp/sst2['train']" in text and found in text
    assert "0 = 'negative' (our 'negative'), 1 = 'positive' (our 'positive')" in text


def test_hub_missing_split_or_column_is_named(monkeypatch):
    tables = hub.sst2_hub(SAMPLES_DIR)
    hub.serve(monkeypatch, {"stanfordnlp/sst2": datasets.DatasetDict(train=tables["train"])})
    with pytest.raises(ValueError, match=r"(?s)no 'validation' split.*splits \['train'\]"):
        load_classification("sst2", full())
    sms = hub.sms_hub(SAMPLES_DIR)
    hub.serve(monkeypatch, {"ucirvine/sms_spam": sms.rename_column("sms", "text")})
    with pytest.raises(ValueError, match=r"(?s)lacks column\(s\) \['sms'\].*\['text', 'label'\]"):
        load_classification("sms_spam", full())


def test_hub_unlabelled_split_is_never_a_labelled_one(monkeypatch):
    tables = hub.sst2_hub(SAMPLES_DIR)
    swapped = datasets.DatasetDict(train=tables["train"], validation=tables["test"])
    hub.serve(monkeypatch, {"stanfordnlp/sst2": swapped})
    with pytest.raises(ValueError, match=r"(?s)stanfordnlp/sst2\['validation'\].*labels \[-1\]"):
        load_classification("sst2", full())


def test_hub_one_class_is_refused(monkeypatch):
    hub.serve(monkeypatch, {"ucirvine/sms_spam": hub.sms_hub(SAMPLES_DIR, only="ham")})
    with pytest.raises(ValueError) as err:
        load_classification("sms_spam", full())
    assert "ucirvine/sms_spam['train']" in str(err.value)
    assert "rows are 'ham'" in str(err.value)


def test_hub_instructions_empty_or_renamed_are_refused(monkeypatch):
    empty = hub.alpaca_hub(SAMPLES_DIR / "alpaca_instruction" / "instruction-data.json")
    hub.serve(monkeypatch, {"tatsu-lab/alpaca": datasets.DatasetDict(train=empty["train"].select([]))})
    with pytest.raises(ValueError, match=r"(?s)No instruction records.*tatsu-lab/alpaca.*0 records"):
        load_instructions("alpaca", full())
    renamed = empty.rename_column("output", "response")
    hub.serve(monkeypatch, {"vicgalle/alpaca-gpt4": renamed})
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['output'\]"):
        load_instructions("alpaca-gpt4", full())


def test_hub_failure_says_how_to_work_offline(monkeypatch):
    hub.serve(monkeypatch, {})
    with pytest.raises(RuntimeError, match="(?s)ucirvine/sms_spam.*DATA_DIR.*PROFILE=tiny"):
        load_classification("sms_spam", full())


def test_hub_text_keeps_the_raw_blanks(monkeypatch):
    """Only the blank the hub adds goes: a message that ends in a space keeps it (as in the file)."""
    tables = hub.sms_hub(SAMPLES_DIR)
    train = tables["train"]
    texts = [" leading", "trailing ", *train["sms"][2:]]
    texts[:2] = [t + "\n" for t in texts[:2]]
    hub.serve(monkeypatch, {"ucirvine/sms_spam": datasets.DatasetDict(
        train=replace_column(train, "sms", texts))})
    data = load_classification("sms_spam", full())
    every = {t for split in data.splits.values() for t in split["text"]}
    assert {" leading", "trailing "} <= every and not any(t.endswith("\n") for t in every)


def replace_column(table: datasets.Dataset, column: str, values: list) -> datasets.Dataset:
    return table.remove_columns(column).add_column(column, values, feature=table.features[column])

