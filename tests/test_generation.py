"""Decoding strategies and their measures (gpt2ft.generate.decoding), and Sprint 10's figures (generate.figures)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from gpt2ft.core import models
from gpt2ft.generate import decoding, figures  # noqa: E402
from gpt2ft.session import loading


@pytest.fixture(scope="module")
def tiny():
    return loading.bundled_tokenizer(), models.tiny_model(seed=0).eval()


def test_distinct_n_and_repetition_on_hand_made_sequences():
    assert decoding.distinct_n([[1, 2, 3, 4]], 1) == 1.0
    assert decoding.distinct_n([[1, 1, 1, 1]], 2) == pytest.approx(1 / 3)
    assert decoding.distinct_n([[1]], 2) == 0.0
    assert decoding.repetition_rate([5, 6, 7, 5, 6, 7], n=3) == pytest.approx(1 / 4)
    assert decoding.repetition_rate([1, 2, 3, 4, 5], n=3) == 0.0


def test_same_seed_same_sample_and_other_seed_differs(tiny):
    tok, model = tiny
    kwargs = decoding.DECODING_STRATEGIES["temperature 1.3"]
    a = decoding.generate(model, tok, "Hello", seed=5, max_new_tokens=12, **kwargs)
    b = decoding.generate(model, tok, "Hello", seed=5, max_new_tokens=12, **kwargs)
    c = decoding.generate(model, tok, "Hello", seed=6, max_new_tokens=12, **kwargs)
    assert a == b and a != c and len(a) == 12


def test_greedy_follows_the_argmax_of_the_next_token_table(tiny):
    tok, model = tiny
    table = decoding.next_token_table(model, tok, "The capital of France is", k=5)
    assert list(table.columns) == ["token", "id", "probability", "logit"]
    assert table["probability"].is_monotonic_decreasing
    first = decoding.generate(model, tok, "The capital of France is", max_new_tokens=1, do_sample=False)
    assert first == [table["id"][0]]


def test_compare_strategies_has_a_row_per_strategy_and_prompt(tiny):
    tok, model = tiny
    strategies = {k: decoding.DECODING_STRATEGIES[k] for k in ("greedy", "top-k 40")}
    samples, summary = decoding.compare_strategies(model, tok, ["A", "B"], max_new_tokens=6,
                                                     strategies=strategies)
    assert len(samples) == 4 and list(summary.index) == list(strategies)
    assert list(samples.columns) == ["strategy", "prompt", "tokens", "text", "log-prob / token"]
    assert all(len(tokens) == 6 for tokens in samples["tokens"])
    assert list(summary.columns) == ["distinct-1", "distinct-2", "repetition", "length", "log-prob / token"]
    assert (summary["length"] == 6).all()
    # Greedy on a random model loops: more repetition than sampling.
    assert summary.loc["greedy", "repetition"] >= summary.loc["top-k 40", "repetition"]
    # Greedy takes the likeliest token at every step: its text is likelier than a sampled one.
    assert summary.loc["greedy", "log-prob / token"] > summary.loc["top-k 40", "log-prob / token"]


def test_mean_logprob_is_the_mean_of_each_tokens_log_probability(tiny):
    tok, model = tiny
    prompt = "The capital of France is"
    new = decoding.generate(model, tok, prompt, max_new_tokens=3, do_sample=False)
    ids = tok(prompt)["input_ids"]
    by_step = []
    with torch.no_grad():
        for i, token in enumerate(new):
            logits = model(torch.tensor([ids + new[:i]])).logits[0, -1]
            by_step.append(float(logits.log_softmax(-1)[token]))
    assert decoding.mean_logprob(model, tok, prompt, new) == pytest.approx(sum(by_step) / 3, abs=1e-5)
    assert decoding.mean_logprob(model, tok, prompt, []) != decoding.mean_logprob(model, tok, prompt, [])  # nan


def test_positions_run_counts_the_whole_sequence_each_step_without_the_cache(tiny):
    tok, model = tiny
    prompt = "The capital of France is"
    prompt_len = len(tok(prompt)["input_ids"])
    assert decoding.positions_run(model, tok, prompt, 6, use_cache=False) == sum(prompt_len + i for i in range(6))
    assert decoding.positions_run(model, tok, prompt, 6, use_cache=True) == prompt_len + 5
    assert not model._forward_pre_hooks  # the counting hook is gone


def test_nucleus_size_counts_the_tokens_top_p_keeps():
    assert figures._nucleus_size(torch.full((10,), 0.1), 0.9) == 9
    assert figures._nucleus_size(torch.tensor([0.7, 0.2, 0.1]), 0.9) == 2
    assert figures._nucleus_size(torch.tensor([0.95, 0.05]), 0.9) == 1


def test_figures_draw_with_the_models_sizes(tiny):
    _, model = tiny
    fig = figures.gpt2_pipeline(model.config, n_prompt_tokens=5)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "2 × transformer block" in texts and "(5, 64)" in texts and "50,257" in texts
    plt.close(fig)
    fig = figures.temperature_cuts(torch.randn(50), (0.5, 1.0, 2.0), top_k=5, top_p=0.9)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 3 + 3 + 1  # curves, top-p cuts, top-k cut
    plt.close(fig)
