"""Every data set of the sprints by name, from DATA_DIR, the bundled samples or the hub.

One resolution rule for all of them (see :mod:`gpt2ft.session.data.sources`):
``DATA_DIR`` set -> the canonical raw file below it; else PROFILE=tiny -> the
project's own synthetic sample in ``gpt2ft/samples/``; else the Hugging Face hub
(or the file's canonical URL, pinned by sha256). Every loader says where its data
came from, and refuses a set it cannot train on (one class only, zero records).

- :mod:`~gpt2ft.session.data.classification`  sst2, imdb, sms_spam, customer_reviews
  (``sprints/sprint11_classification/01_data``)
- :mod:`~gpt2ft.session.data.corpora`         tinyshakespeare, the_verdict, a local book,
  the general-text control (``sprints/sprint12_book/01_prepare_data``)
- :mod:`~gpt2ft.session.data.instructions`    alpaca_instruction, alpaca, alpaca-gpt4, a local
  JSON/JSONL file (``sprints/sprint13_instructions/01_data``)
- :mod:`~gpt2ft.session.data.sources`         where a set comes from: the rule above, downloads
  pinned by sha256, one way of writing every data error (what, file, where, found, expected, fix)
- :mod:`~gpt2ft.session.data.splitting`       stratified train/validation/test splits of a
  classification set (``sprints/sprint11_classification/01_data``)
"""

from gpt2ft.session.data.classification import NAMES as CLASSIFICATION_NAMES
from gpt2ft.session.data.classification import ClassificationData, clean_html, load_classification, reference_baseline
from gpt2ft.session.data.corpora import NAMES as CORPUS_NAMES
from gpt2ft.session.data.corpora import Corpus, control_text, load_corpus
from gpt2ft.session.data.instructions import NAMES as INSTRUCTION_NAMES
from gpt2ft.session.data.instructions import InstructionData, load_instructions

__all__ = [
    "CLASSIFICATION_NAMES", "CORPUS_NAMES", "INSTRUCTION_NAMES",
    "ClassificationData", "Corpus", "InstructionData",
    "clean_html", "control_text", "load_classification", "load_corpus",
    "load_instructions", "reference_baseline",
]
