"""Instruction tuning: the Alpaca template, masked labels, response extraction, scores.

Introduced across ``sprints/sprint13_instructions/``, one module per concept:

- ``records``: :func:`split_records` (seeded train/validation/test), :func:`token_lengths`
  (``01_data``);
- ``template``: :func:`format_prompt`, :func:`encode`, :func:`encode_records`,
  :func:`masking_figure` (the diagram of which labels carry the loss),
  :func:`extract_response` (``02_format_and_batch``);
- ``responses``: :func:`label_loss` (the loss on the tokens that carry a label,
  ``03_finetune``), :func:`generate_responses` (same template, greedy, stops at
  end-of-text, says whether it stopped), :func:`evaluate_responses` (``04_evaluate``);
- ``scoring``: :func:`score`, :func:`token_f1`, :func:`rouge_l`, :func:`adherence`,
  :func:`summarise` (``04_evaluate``);
- ``figures``: :func:`lengths_figure` (``01_data``), :func:`training_curves` and
  :func:`per_token_figure` (``03_finetune``).

Every public name is here too: ``from gpt2ft import instruct; instruct.format_prompt(...)``.
"""

from gpt2ft.instruct.figures import lengths_figure, per_token_figure, training_curves
from gpt2ft.instruct.records import SPLITS, split_records, token_lengths
from gpt2ft.instruct.responses import Generation, evaluate_responses, generate_responses, label_loss
from gpt2ft.instruct.scoring import ADHERENCE, adherence, normalise, rouge_l, score, summarise, token_f1
from gpt2ft.instruct.template import (
           IGNORE_INDEX,
           PREAMBLE,
           RESPONSE_HEADER,
           TEMPLATE_MARKERS,
           Encoded,
           encode,
           encode_records,
           extract_response,
           format_prompt,
           masking_figure,
)

__all__ = ["ADHERENCE", "IGNORE_INDEX", "PREAMBLE", "RESPONSE_HEADER", "SPLITS",
           "TEMPLATE_MARKERS", "Encoded", "Generation", "adherence", "encode", "encode_records", "evaluate_responses",
           "extract_response", "format_prompt", "generate_responses", "label_loss", "lengths_figure",
           "masking_figure", "normalise", "per_token_figure", "rouge_l", "score",
           "split_records", "summarise", "token_f1", "token_lengths", "training_curves"]
