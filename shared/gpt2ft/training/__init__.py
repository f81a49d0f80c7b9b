"""One training loop for every sprint: fast on a GPU, honest on a CPU, never loses a run.

The loop is written by hand, in plain PyTorch, in
``sprints/sprint11_classification/04_finetune`` and checked there against
:func:`train` step for step; ``sprints/sprint12_book/05_appendix_engine`` shows
what the engine adds. Usage::

    from gpt2ft.training import TrainConfig, train
    cfg = TrainConfig(output_dir=runs_dir("sprint11", "full"), learning_rate=5e-5,
                      batch_size=8, num_epochs=3, eval_every="epoch", save_every=50)
    result = train(model, train_ds, eval_ds, cfg, metrics_fn=accuracy_and_f1)
    result.history          # pandas DataFrame, one row per logged/evaluated step

The package, in the order a run uses it (details in ``notes/training_engine.md``):

- ``config``         :class:`TrainConfig` and its checks, :class:`TrainResult`, :class:`NonFiniteLossError`;
  ``throwaway`` (a run that keeps nothing) and ``step_by_step`` (a run to compare with a loop by hand)
- ``compare``        ``one_process_only``: a loop by hand against the engine, a one-process comparison
- ``runs``           a run's identity (settings, model and data fingerprints), claimed in its folder
- ``inputs``         the data checked against the model, the resumable per-process order, step
  counts, long batches cut into micro-batches
- ``batching``       dynamic padding, length grouping, the resumable batch sampler
- ``strategies``     which parameters train: full, head, last_k, LoRA
- ``lm_loss``        the causal-LM loss in chunks, without the full logits
- ``runtime``        device, precision (autocast, fp16 scaler), loss path, processes, AdamW, schedule
- ``state``          :class:`RunState` (step, epoch, best loss...), checkpoints written and resumed
- ``checkpointing``  the checkpoint files: atomic writes, verified reads, fallback
- ``step``           one optimizer step in one screen: micro-batches forward and backward, clip,
  optimizer step, schedule
- ``loop``           :func:`train`: set-up once, then epochs, logging, evaluation, the best, saving
- ``evaluation``     one pass over the eval set: token-weighted loss, perplexity, metrics
- ``reporting``      running loss sums, the history table, the lines printed
- ``callbacks``      the progress bar and the live loss plot
- ``memory``         what training costs in memory: computed, and the peak measured

What it does, and why:

- **accelerate** starts or joins the process group, places the model and wraps
  it in DDP; the same script runs unchanged under ``accelerate launch
  --num_processes N``. Precision is plain PyTorch (``torch.autocast``, and a
  ``GradScaler`` for fp16).
- **On a GPU**: bf16 autocast where the GPU has it natively (else fp16 with loss
  scaling), fused AdamW, PyTorch SDPA attention, TF32 matmuls, pinned memory
  with non-blocking copies, optional ``torch.compile``; no GPU->CPU sync per
  step (losses are accumulated on the device and read every ``log_every``
  steps). **On a CPU** only what is faster there too: fp32, fused AdamW (3-4x
  faster than PyTorch's default single-tensor loop on a CPU), the chunked LM
  loss, no pinning.
- **Batches without waste**: dynamic padding (to a multiple of 8 on a GPU),
  optional length-grouped order; packed causal-LM blocks are just stacked.
- **Never lose a run**: checkpoints (weights, optimizer, scheduler, RNG states,
  step, data position) are written atomically, verified on resume, and a bad
  one falls back to the previous one; a resumed CPU run ends bit-identical to
  an uninterrupted one. A non-finite loss stops the run with the step and the
  batch that caused it (:class:`NonFiniteLossError`); nothing is saved after it.
- **Bad settings** are refused before any work, with what is allowed.

Gradient accumulation and several processes average *per micro-batch mean
losses*: this equals the loss of the one large batch they stand for exactly
when every micro-batch has the same number of target tokens (packed blocks,
classification); with variable-length causal-LM rows it is the usual
approximation (the same one ``transformers.Trainer`` makes without
``num_items_in_batch``).
"""

from gpt2ft.training.callbacks import Callback, LivePlot, ProgressBar
from gpt2ft.training.config import (
    NonFiniteLossError,
    TrainConfig,
    TrainResult,
    config_dict,
    step_by_step,
    throwaway,
)
from gpt2ft.training.loop import train

__all__ = ["TrainConfig", "TrainResult", "train", "NonFiniteLossError", "Callback",
           "ProgressBar", "LivePlot", "config_dict", "step_by_step", "throwaway"]
