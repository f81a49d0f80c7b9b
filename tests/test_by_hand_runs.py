"""``training.throwaway`` and ``training.step_by_step``: the configs of the short runs that
Sprint 13's notebooks compare (issue 20), and the masked-loss loop of ``03_finetune``
written by hand, which must take the engine's steps exactly."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset

from gpt2ft.training import TrainConfig, batching, step_by_step, strategies, throwaway, train

pytestmark = pytest.mark.usefixtures("one_thread")


def recipe(tmp_path, **kw) -> TrainConfig:
    base = dict(output_dir=tmp_path, run_name="instructions", learning_rate=1e-3, weight_decay=0.1,
                batch_size=4, num_epochs=2, eval_every=10, load_best_at_end=True, log_every=5,
                strategy="lora", lora_r=4, lora_alpha=8, mixed_precision="auto", device="auto")
    return TrainConfig(**{**base, **kw})


def test_throwaway_keeps_the_recipe_and_nothing_else(tmp_path):
    cfg = recipe(tmp_path)
    quick = throwaway(cfg, learning_rate=2e-3)
    assert (quick.save_every, quick.save_final, quick.resume, quick.progress_bar, quick.verbose) == (
        None, False, False, False, False)
    assert quick.log_every == 1  # every step's loss: what a throwaway run is compared by
    assert quick.learning_rate == 2e-3 and quick.run_name == "instructions"
    assert (quick.weight_decay, quick.strategy, quick.lora_r, quick.lora_alpha, quick.eval_every) == (
        0.1, "lora", 4, 8, 10)
    assert throwaway(cfg, save_final=True).save_final  # a change asked for wins


def test_step_by_step_is_the_recipe_cut_to_its_steps_in_the_loops_arithmetic(tmp_path):
    cfg = recipe(tmp_path, warmup_ratio=0.2, scheduler="cosine", max_grad_norm=0.5, compile=True)
    check = step_by_step(cfg, 7)
    kept = ("learning_rate", "weight_decay", "batch_size", "warmup_ratio", "scheduler", "max_grad_norm",
            "strategy", "lora_r", "lora_alpha", "seed", "output_dir", "lm_loss")
    assert all(getattr(check, k) == getattr(cfg, k) for k in kept)
    assert (check.max_steps, check.log_every, check.eval_every, check.load_best_at_end) == (7, 1, None, False)
    assert check.num_epochs >= 7  # even one batch per epoch gives 7 steps
    assert (check.device, check.mixed_precision, check.compile, check.grad_accum_steps) == ("auto", "no", False, 1)
    assert check.early_stopping_patience == 0
    assert check.max_batch_tokens > 10**12 and not check.save_final and not check.resume
    assert check.run_name == "instructions-by-hand"
    on_the_loops_device = step_by_step(cfg, 7, device="cpu", warmup_steps=1)  # the loop's own settings win
    assert (on_the_loops_device.device, on_the_loops_device.warmup_steps) == ("cpu", 1)


@pytest.mark.parametrize("steps", [0, -1, 2.5, True])
def test_step_by_step_refuses_a_bad_number_of_steps(tmp_path, steps):
    with pytest.raises(ValueError, match="whole number of optimizer steps"):
        step_by_step(recipe(tmp_path), steps)


def masked_rows(n=24, seed=3):
    """Ragged rows whose first tokens (a 'prompt') carry the label -100."""
    g = torch.Generator().manual_seed(seed)
    rows = {"input_ids": [], "attention_mask": [], "labels": []}
    for _ in range(n):
        length = int(torch.randint(6, 15, (1,), generator=g))
        prompt = int(torch.randint(2, length - 1, (1,), generator=g))
        ids = torch.randint(1, 256, (length,), generator=g).tolist()
        rows["input_ids"].append(ids)
        rows["attention_mask"].append([1] * length)
        rows["labels"].append([-100] * prompt + ids[prompt:])
    return Dataset.from_dict(rows)


@pytest.mark.parametrize("strategy", ["lora", "full"])
def test_the_masked_loop_by_hand_takes_the_engines_steps(tmp_path, tiny_lm, strategy):
    """03_finetune's loop (with dropout on: the same random draws in the same order)."""
    rows, steps = masked_rows(), 8  # 6 batches of 4 per epoch: the loop crosses an epoch
    cfg = recipe(tmp_path, strategy=strategy, warmup_ratio=0.25, lora_dropout=0.05)
    model = tiny_lm(seed=0)
    torch.manual_seed(cfg.seed)
    model = strategies.apply_strategy(model, cfg.strategy, lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha)
    sampler = batching.ResumableBatchSampler(len(rows), cfg.batch_size, seed=cfg.seed)
    collate = batching.DynamicPadding(pad_token_id=0)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
                                   {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
                                  lr=cfg.learning_rate, fused=True)
    warmup = int(cfg.warmup_ratio * steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / warmup if s < warmup else (steps - s) / (steps - warmup))

    def batches():
        for epoch in itertools.count():
            sampler.set_epoch(epoch)
            for chosen in sampler:
                yield collate([rows[i] for i in chosen])

    losses, lrs, norms = [], [], []
    model.train()
    for batch in itertools.islice(batches(), steps):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), batch["labels"][:, 1:].flatten(),
                               ignore_index=-100)
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm).item())
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())

    engine = train(tiny_lm(seed=0), rows, None, step_by_step(cfg, steps))
    log = engine.history.dropna(subset=["train_loss"])
    assert len(log) == steps
    assert lrs[0] == 0.0 and max(lrs) == cfg.learning_rate  # one warm-up step, then the decay
    for ours, column, rtol in ((lrs, "lr", 1e-12), (losses, "train_loss", 1e-5), (norms, "grad_norm", 1e-4)):
        torch.testing.assert_close(torch.tensor(ours, dtype=torch.float64), torch.tensor(log[column].to_numpy()),
                                   rtol=rtol, atol=0, msg=lambda m, c=column: f"{c}: {m}")
    assert engine.run_dir.name.startswith("instructions-by-hand-") and engine.last_checkpoint is None
