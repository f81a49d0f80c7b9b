"""gpt2ft.session.data: bundled samples, DATA_DIR files, the errors (hub and URL branches: their own files)."""

import csv
import json
from collections import Counter

import datasets
import pytest
from data_helpers import REAL_DATA, full, needs_real_data, split_texts, tiny, write
from data_helpers import offline as offline  # autouse: a fresh cache per test, no network
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from gpt2ft.core.paths import SAMPLES_DIR
from gpt2ft.session.data import (
    CLASSIFICATION_NAMES,
    CORPUS_NAMES,
    INSTRUCTION_NAMES,
    classification,
    clean_html,
    control_text,
    load_classification,
    load_corpus,
    load_instructions,
    reference_baseline,
)

# --- bundled samples (tiny profile) ---------------------------------------------------------

SAMPLE_ROWS = {"sst2": 240, "imdb": 200, "sms_spam": 200, "customer_reviews": 200}
LABEL_NAMES = {"sst2": ["negative", "positive"], "imdb": ["negative", "positive"],
               "sms_spam": ["ham", "spam"], "customer_reviews": ["negative", "positive"]}


@pytest.mark.parametrize("name", CLASSIFICATION_NAMES)
def test_classification_sample_schema_and_splits(name):
    data = load_classification(name, tiny())
    assert list(data.splits) == ["train", "validation", "test"]
    assert sum(len(split) for split in data.splits.values()) == SAMPLE_ROWS[name]
    label = data.train.features["label"]
    assert isinstance(label, datasets.ClassLabel) and label.names == LABEL_NAMES[name]
    assert data.label_names == LABEL_NAMES[name]
    assert data.train.features["text"] == datasets.Value("string")
    assert "bundled synthetic sample" in data.source and "test" in data.split_note
    texts = split_texts(data)
    assert not set(texts["train"]) & set(texts["validation"])
    assert not (set(texts["train"]) | set(texts["validation"])) & set(texts["test"])


@pytest.mark.parametrize("name", CLASSIFICATION_NAMES)
def test_classification_splits_are_stratified(name):
    data = load_classification(name, tiny())
    shares = {split: sum(ds["label"]) / len(ds) for split, ds in data.splits.items()}
    if name != "sst2":  # SST-2's test is its own dev file
        assert abs(shares["train"] - shares["test"]) < 0.03
    assert abs(shares["train"] - shares["validation"]) < 0.07


def test_sms_sample_is_mostly_ham():
    data = load_classification("sms_spam", tiny())
    labels = [label for ds in data.splits.values() for label in ds["label"]]
    assert 0.13 <= sum(labels) / len(labels) <= 0.15


def test_same_seed_same_splits_other_seed_same_test():
    first, again = (load_classification("sms_spam", tiny(seed=3)) for _ in range(2))
    other = load_classification("sms_spam", tiny(seed=4))
    assert split_texts(first) == split_texts(again)
    assert split_texts(first)["test"] == split_texts(other)["test"]
    assert split_texts(first)["validation"] != split_texts(other)["validation"]


def test_validation_size_and_max_examples():
    data = load_classification("imdb", tiny(), validation_size=30, max_examples=20)
    assert [len(ds) for ds in data.splits.values()] == [20, 20, 20]
    assert "capped at 20" in data.split_note
    assert len(load_classification("imdb", tiny(), validation_size=0.25).validation) == 40
    with pytest.raises(ValueError, match="validation_size"):
        load_classification("imdb", tiny(), validation_size=500)


def test_clean_html_and_reference_baselines():
    assert clean_html("Good.<br /><br />Bad.<BR>End") == "Good.\n\nBad.\nEnd"
    assert {n: reference_baseline(n) for n in CLASSIFICATION_NAMES} == {
        "sst2": 0.8165, "imdb": 0.8350, "sms_spam": 0.9776, "customer_reviews": 0.7590}
    assert classification.README_FIGURES["customer_reviews"] == 0.7370


def test_model_texts_turn_imdb_line_breaks_into_newlines_and_leave_the_others():
    imdb = load_classification("imdb", tiny(), max_examples=20)
    assert any("<br" in t for t in imdb.train["text"])  # the raw splits keep the tags
    cleaned = imdb.model_texts()
    assert cleaned["test"]["text"] == [clean_html(t) for t in imdb.test["text"]]
    assert not any("<br" in t for split in cleaned.values() for t in split["text"])
    sst2 = load_classification("sst2", tiny(), max_examples=20)
    assert sst2.model_texts() is sst2.splits


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_book_samples_load(name):
    corpus = load_corpus(name, tiny())
    assert 20_000 <= len(corpus.text) <= 30_000 and corpus.name == name
    assert "bundled synthetic sample" in corpus.source


def test_shakespeare_sample_has_capitalised_speakers():
    text = load_corpus("tinyshakespeare", tiny()).text
    speakers = [line[:-1] for line in text.splitlines() if line.endswith(":")]
    assert len(speakers) > 100 and all(s == s.upper() for s in speakers)


def test_control_text_sample():
    control = control_text(tiny())
    assert 8_000 <= len(control.text) <= 12_000 and "expository" in control.source


def test_instruction_sample():
    data = load_instructions("alpaca_instruction", tiny(), on_invalid="raise")
    assert len(data.records) == 80 and data.problems == []
    assert sum(bool(r["input"]) for r in data.records) == 24
    assert all(set(r) == {"instruction", "input", "output"} for r in data.records)
    stand_in = load_instructions("alpaca-gpt4", tiny())
    assert len(stand_in) == 80 and "standing in for vicgalle/alpaca-gpt4" in stand_in.source


@needs_real_data
def test_samples_are_not_copies_of_the_real_data():
    for sample in (p for p in SAMPLES_DIR.rglob("*") if p.is_file()):
        real = REAL_DATA / sample.relative_to(SAMPLES_DIR)
        if real.is_file():
            assert sample.read_bytes() != real.read_bytes(), sample
            real_lines = set(real.read_text(encoding="utf-8").splitlines())
            shared = [line for line in sample.read_text(encoding="utf-8").splitlines()
                      if len(line) > 30 and line in real_lines]
            assert not shared, (sample, shared[:3])


# --- errors ---------------------------------------------------------------------------------

def test_missing_file_names_path_format_and_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_classification("sms_spam", full(data_dir=tmp_path))
    text = str(err.value)
    assert str(tmp_path / "sms_spam" / "SMSSpamCollection") in text
    assert "`ham|spam<TAB>text`, UTF-8, no header" in text
    assert "DATA_DIR" in text and "PROFILE=tiny" in text


@pytest.mark.parametrize(("rel", "content", "line"), [
    ("sms_spam/SMSSpamCollection", "ham\tfine\nspam\tok\nham no tab here\n", 3),
    ("sms_spam/SMSSpamCollection", "ham\tfine\nhamm\ttypo label\n", 2),
    ("customer_reviews/amazon_snippets_binary.tsv",
     "text\tlabel\tscore\tid\ngood\t1\t0.5\t1_1\nbad\t0\t-0.5\n", 3),
    ("imdb/imdb_reviews_small.csv", 'text,label\n"fine, really",1\n"ok",positive\n', 3),
])
def test_malformed_row_names_file_and_line(tmp_path, rel, content, line):
    path = write(tmp_path, rel, content)
    name = rel.split("/")[0]
    with pytest.raises(ValueError) as err:
        load_classification(name, full(data_dir=tmp_path))
    assert str(path) in str(err.value) and f"line {line}" in str(err.value)
    assert "expected:" in str(err.value)


def test_wrong_header_is_reported(tmp_path):
    write(tmp_path, "sst2/train.tsv", "text\tlabel\nfine\t1\n")
    write(tmp_path, "sst2/dev.tsv", "sentence\tlabel\nfine\t1\n")
    with pytest.raises(ValueError, match=r"(?s)train\.tsv.*line 1.*header"):
        load_classification("sst2", full(data_dir=tmp_path))


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="customer_reviews, imdb, sms_spam, sst2"):
        load_classification("yelp", tiny())
    with pytest.raises(ValueError, match="reference_baseline|imdb"):
        reference_baseline("yelp")
    with pytest.raises(ValueError, match="the_verdict, tinyshakespeare"):
        load_corpus("moby_dick", tiny())
    assert INSTRUCTION_NAMES == ("alpaca_instruction", "alpaca", "alpaca-gpt4")
    with pytest.raises(ValueError, match="alpaca, alpaca-gpt4, alpaca_instruction"):
        load_instructions("dolly", tiny())


def test_local_book_reads_utf8(tmp_path):
    book = write(tmp_path, "my book.txt", "\ufeffChapter 1\r\nIt was a dark night.\r\n")
    corpus = load_corpus(book, tiny())
    assert corpus.text == "Chapter 1\nIt was a dark night.\n" and corpus.name == "my book"
    assert str(book) in corpus.source


@pytest.mark.parametrize(("content", "found"), [
    (b"", "Empty data file"),
    (b"  \n\n", "Empty data file"),
    (b"PK\x03\x04abc\x00def", "byte offset 7"),
    ("caf\u00e9 ok\n".encode() + "na\u00efve".encode("latin-1"), "byte offset 11"),
])
def test_bad_books_are_reported_with_offset(tmp_path, content, found):
    book = write(tmp_path, "bad.txt", content)
    with pytest.raises(ValueError) as err:
        load_corpus(book, tiny())
    assert str(book) in str(err.value) and found in str(err.value)
    if content.strip():
        assert "re-save the file as UTF-8" in str(err.value)


def test_missing_book_path_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_corpus(tmp_path / "nope.txt", tiny())
    with pytest.raises(ValueError, match="Not a .txt file"):
        load_corpus(tmp_path, tiny())


def test_header_only_and_one_sided_files(tmp_path):
    write(tmp_path, "imdb/imdb_reviews_small.csv", "text,label\n")
    with pytest.raises(ValueError, match="No examples in"):
        load_classification("imdb", full(data_dir=tmp_path))
    write(tmp_path, "imdb/imdb_reviews_small.csv", "text,label\n" + "nice,1\n" * 9 + "bad,0\n")
    with pytest.raises(ValueError, match=r"label counts \{0: 1, 1: 9\}"):
        load_classification("imdb", full(data_dir=tmp_path))


def test_one_class_file_is_refused_naming_file_and_counts(tmp_path):
    path = write(tmp_path, "sms_spam/SMSSpamCollection", "".join(f"ham\tmessage {i}\n"
                                                                  for i in range(5)))
    with pytest.raises(ValueError) as err:
        load_classification("sms_spam", full(data_dir=tmp_path))
    text = str(err.value)
    assert str(path) in text and "all 5 rows are 'ham'" in text
    assert "both classes ('ham' and 'spam')" in text and "fix:" in text


def test_one_class_test_file_is_refused(tmp_path):
    write(tmp_path, "sst2/train.tsv", "sentence\tlabel\n" + "good\t1\nbad\t0\n" * 10)
    dev = write(tmp_path, "sst2/dev.tsv", "sentence\tlabel\n" + "great\t1\n" * 4)
    with pytest.raises(ValueError, match=r"(?s)dev\.tsv.*all 4 rows are 'positive'"):
        load_classification("sst2", full(data_dir=tmp_path))
    assert dev.is_file()


def test_a_cap_that_leaves_one_class_is_refused():
    with pytest.raises(ValueError, match=r"(?s)'train' split.*all 1 rows.*max_examples"):
        load_classification("sms_spam", tiny(), max_examples=1)


def test_instruction_file_without_records_is_refused(tmp_path):
    path = write(tmp_path, "empty.json", "[]\n")  # (a blank .jsonl is an "Empty data file")
    with pytest.raises(ValueError) as err:
        load_instructions(path, tiny())
    text = str(err.value)
    assert str(path) in text and "0 records" in text and "at least 1 record" in text


def test_instruction_file_without_valid_records_is_refused(tmp_path):
    path = write(tmp_path, "bad.json", json.dumps([{"instruction": "x"}, {"output": "y"}]))
    with pytest.raises(ValueError, match=r"(?s)2 invalid instruction record\(s\) of 2.*bad\.json"):
        load_instructions(path, tiny(), on_invalid="skip")


INVALID = [
    {"instruction": "Fine.", "input": "", "output": "Yes."},
    {"instruction": "No output."},
    {"instruction": "Empty output.", "input": "", "output": "  "},
    {"instruction": 3, "input": ["x"], "output": "Wrong types."},
    "not an object",
    {"instruction": "No input key.", "output": "Still fine."},
]


def test_invalid_records_skip_keeps_report(tmp_path):
    path = write(tmp_path, "set.json", json.dumps(INVALID))
    data = load_instructions(path, tiny())
    assert [r["instruction"] for r in data.records] == ["Fine.", "No input key."]
    assert data.records[1]["input"] == ""
    assert [p.split(":")[0] for p in data.problems] == ["record 1", "record 2", "record 3",
                                                         "record 4"]
    assert "missing 'output'" in data.problems[0] and "'output' is empty" in data.problems[1]
    assert "'instruction' is a int" in data.problems[2] and "'input' is a list" in data.problems[2]


def test_invalid_records_raise_lists_them(tmp_path):
    path = write(tmp_path, "set.jsonl", "\n".join(json.dumps(r) for r in INVALID) + "\n")
    with pytest.raises(ValueError) as err:
        load_instructions(path, tiny(), on_invalid="raise")
    text = str(err.value)
    assert "4 invalid instruction record(s) of 6" in text and str(path) in text
    assert "record 1 (line 2): missing 'output'" in text and "record 4 (line 5)" in text
    with pytest.raises(ValueError, match="on_invalid"):
        load_instructions(path, tiny(), on_invalid="ignore")


@pytest.mark.parametrize(("name", "content", "where"), [
    ("bad.json", '[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c",,}\n]',
     "line 3, column 23"),
    ("bad.jsonl", '{"instruction": "a", "output": "b"}\n\n{"instruction": }\n', "line 3"),
])
def test_invalid_json_names_file_line_and_column(tmp_path, name, content, where):
    path = write(tmp_path, name, content)
    with pytest.raises(ValueError) as err:
        load_instructions(path, tiny())
    assert str(path) in str(err.value) and where in str(err.value)


def test_json_must_be_a_list(tmp_path):
    path = write(tmp_path, "obj.json", '{"instruction": "a", "output": "b"}')
    with pytest.raises(ValueError, match="Not a JSON list"):
        load_instructions(path, tiny())


# --- the real data sets (../shared/data) ----------------------------------------------------

@needs_real_data
@pytest.mark.parametrize(("name", "counts"), [
    ("sms_spam", (5574, 747)), ("sst2", (67349 + 872, 37569 + 444)),
    ("imdb", (2000, 960)), ("customer_reviews", (3610, 2128))])
def test_real_row_counts(name, counts):
    data = load_classification(name, tiny(data_dir=REAL_DATA))
    labels = [label for ds in data.splits.values() for label in ds["label"]]
    assert (len(labels), sum(labels)) == counts
    assert "DATA_DIR ../shared/data/" in data.source  # as a reader sees it: no machine path


@needs_real_data
def test_real_sst2_split_sizes_and_seed_independent_test():
    data = load_classification("sst2", full(data_dir=REAL_DATA))
    assert [len(ds) for ds in data.splits.values()] == [66477, 872, 872]
    assert sum(data.test["label"]) == 444
    sms = [load_classification("sms_spam", full(seed=s, data_dir=REAL_DATA)) for s in (0, 5)]
    assert list(sms[0].test["text"]) == list(sms[1].test["text"])


@needs_real_data
def test_readme_amazon_figure_came_from_a_default_quoting_parse():
    """Why reference_baseline("customer_reviews") differs from the README's 0.7370."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(REAL_DATA / "customer_reviews/amazon_snippets_binary.tsv", sep="\t")
    assert len(frame) == 3456  # quoted snippets swallow the lines after them
    x_train, x_test, y_train, y_test = train_test_split(
        list(frame.text), list(frame.label), test_size=0.2, random_state=0,
        stratify=list(frame.label))
    vectorizer = CountVectorizer()
    model = LogisticRegression(max_iter=2000).fit(vectorizer.fit_transform(x_train), y_train)
    accuracy = (model.predict(vectorizer.transform(x_test)) == y_test).mean()
    assert accuracy == pytest.approx(classification.README_FIGURES["customer_reviews"],
                                     abs=0.0005)


@needs_real_data
def test_real_corpora_and_control():
    real = tiny(data_dir=REAL_DATA)
    assert len(load_corpus("tinyshakespeare", real).text) == 1_115_394
    assert len(load_corpus("the_verdict", real).text) == 20_479
    control = control_text(real, max_chars=20_000)
    assert len(control.text) <= 20_000 and "<br" not in control.text
    assert "IMDB test-split reviews" in control.source


@needs_real_data
def test_real_instructions():
    data = load_instructions("alpaca_instruction", tiny(data_dir=REAL_DATA), on_invalid="raise")
    assert len(data.records) == 1100 and data.problems == []
    assert sum(bool(r["input"]) for r in data.records) == 325


@needs_real_data
def test_real_sms_needs_quote_none():
    """The README's warning: CSV quoting merges lines (5,572 rows); we read 5,574."""
    with open(REAL_DATA / "sms_spam/SMSSpamCollection", encoding="utf-8", newline="") as f:
        quoted = [row for row in csv.reader(f, delimiter="\t") if row]
    assert len(quoted) == 5572
    labels = load_classification("sms_spam", tiny(data_dir=REAL_DATA))
    assert Counter(label for ds in labels.splits.values() for label in ds["label"])[1] == 747
