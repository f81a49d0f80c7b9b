"""The Alpaca template, masked labels and the masking diagram.

Introduced in ``sprints/sprint13_instructions/02_format_and_batch``. The template
lives here and only here: training and generation both call :func:`format_prompt`,
so the model is asked questions in exactly the form it was trained on. Labels are
``-100`` on the prompt (and on padding, see ``batching``), so the loss is the
response's alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from datasets import Dataset

from gpt2ft.session.data.instructions import TEMPLATE_END

IGNORE_INDEX = -100  # what torch's cross-entropy skips
PREAMBLE = ("Below is an instruction that describes a task{extra}. "
            "Write a response that appropriately completes the request.")
RESPONSE_HEADER = "### Response:\n"
TEMPLATE_MARKERS = ("### Instruction", "### Input", "### Response", "Below is an instruction")


def format_prompt(record: dict) -> str:
    """The Alpaca prompt for ``record``, ending with the response header."""
    if record.get("input"):
        return (PREAMBLE.format(extra=", paired with an input that provides further context") + "\n\n"
                f"### Instruction:\n{record['instruction']}\n\n### Input:\n{record['input']}\n\n"
                + RESPONSE_HEADER)
    return (PREAMBLE.format(extra="") + "\n\n"
            f"### Instruction:\n{record['instruction']}\n\n" + RESPONSE_HEADER)


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    truncated: bool


def encode(record: dict, tokenizer, max_length: int, mask_prompt: bool = True) -> Encoded:
    """prompt + response + end-of-text as ids; labels masked on the prompt.

    Over ``max_length``, the prompt is cut first, from its start (the preamble
    goes before the instruction), always keeping the response header so the
    model still sees where the answer begins; only then is the response cut
    from its end (and it then has no end-of-text: it did not end).
    """
    prompt = tokenizer.encode(format_prompt(record))
    header = tokenizer.encode(RESPONSE_HEADER)
    response = tokenizer.encode(record["output"]) + [tokenizer.eos_token_id]
    overflow = len(prompt) + len(response) - max_length
    truncated = overflow > 0
    if truncated:
        cut = min(overflow, len(prompt) - len(header))
        prompt, overflow = prompt[cut:], overflow - cut
        if overflow > 0:
            response = response[: len(response) - overflow]
    prompt_labels = [IGNORE_INDEX] * len(prompt) if mask_prompt else list(prompt)
    return Encoded(prompt + response, prompt_labels + response, truncated)


def encode_records(records: list[dict], tokenizer, max_length: int,
                   mask_prompt: bool = True) -> tuple[Dataset, int]:
    """A Dataset of ``input_ids``/``attention_mask``/``labels`` and the count of truncated records."""
    encoded = [encode(r, tokenizer, max_length, mask_prompt) for r in records]
    data = Dataset.from_dict({
        "input_ids": [e.input_ids for e in encoded],
        "attention_mask": [[1] * len(e.input_ids) for e in encoded],
        "labels": [e.labels for e in encoded],
    })
    return data, sum(e.truncated for e in encoded)


def _sections(record: dict) -> list[tuple[str, str, bool]]:
    """(name, text, is prompt) for each part of the encoded record, in order."""
    preamble = format_prompt(record).split("### Instruction:")[0]
    parts = [("preamble", preamble, True), ("###\nInstruction:", "### Instruction:\n", True),
             ("instruction", record["instruction"] + "\n\n", True)]
    if record.get("input"):
        parts += [("###\nInput:", "### Input:\n", True), ("input", record["input"] + "\n\n", True)]
    return parts + [("###\nResponse:", RESPONSE_HEADER, True), ("response", record["output"], False)]


def masking_figure(record: dict, tokenizer, title: str | None = None):
    """The prompt-masking diagram of ``02_format_and_batch``, drawn from a real record.

    Three rows of boxes, one box per section of the Alpaca template, as wide as
    its tokens: the ``input_ids``; the labels with the prompt masked (``-100``,
    grey: no loss) and the response + end-of-text kept (the loss); the labels
    of the loss-on-everything alternative.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    sections, text = [], ""
    for name, part, is_prompt in _sections(record):
        before = len(tokenizer.encode(text)) if text else 0
        text += part
        sections.append((name, len(tokenizer.encode(text)) - before, is_prompt))
    sections.append(("end-of-\ntext", 1, False))
    colours = {"preamble": "#c6dbef", "instruction": "#9ecae1", "input": "#fdd0a2",
               "response": "#a1d99b", "end-of-\ntext": "#74c476"}
    header = "#dadaeb"
    widths = [max(n, 6.0) for _, n, _ in sections]  # short sections stay readable
    fig, ax = plt.subplots(figsize=(11, 3.3))
    rows = [("input_ids", None), ("labels: prompt masked", "masked"), ("labels: loss on everything", "all")]
    for r, (row_name, kind) in enumerate(rows):
        y, x = 2 - r, 0.0
        ax.text(-0.5, y + 0.4, row_name, ha="right", va="center", fontsize=9)
        for (name, n, is_prompt), w in zip(sections, widths, strict=True):
            grey = kind == "masked" and is_prompt
            colour = "#e0e0e0" if grey else colours.get(name, header)
            ax.add_patch(FancyBboxPatch((x + 0.1, y + 0.05), w - 0.2, 0.7, boxstyle="round,pad=0.02",
                                        fc=colour, ec="#555555", lw=0.8))
            label = (f"{name}\n{n} tok" if kind is None else "-100" if grey else "= ids")
            ax.text(x + w / 2, y + 0.4, label, ha="center", va="center", fontsize=7,
                    color="#777777" if grey else "black")
            x += w
    start = sum(w for (_, _, is_prompt), w in zip(sections, widths, strict=True) if is_prompt)
    ax.annotate("", xy=(start, 0.93), xytext=(x, 0.93),
                arrowprops=dict(arrowstyle="<->", color="#238b45", lw=1.5))
    ax.text(start - 0.5, 0.93, "the loss when the prompt is masked", ha="right", va="center",
            fontsize=8, color="#238b45")
    ax.set_xlim(-12, x + 0.5)
    ax.set_ylim(-0.1, 3.2)
    ax.axis("off")
    ax.set_title(title or "Prompt masking: labels are -100 on the prompt, the loss is the response's",
                 fontsize=10)
    fig.tight_layout()
    return fig



def extract_response(generated: str) -> str:
    """The answer part of a generation: up to the template's own end of a response.

    That end is the end-of-text token (generation stops there) or, for a model
    that goes on instead of stopping, the start of a new section of the template
    exactly as :func:`format_prompt` writes it (``### Instruction:`` alone on its
    line, the preamble, an echoed ``### Input:`` / ``### Response:`` header). Any
    other ``### `` (a markdown heading in the answer) is part of the answer.
    """
    found = TEMPLATE_END.search(generated)
    return (generated[: found.start()] if found else generated).strip()


