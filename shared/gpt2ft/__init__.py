"""gpt2ft: the helper package of the GPT-2 fine-tuning notebook sprints.

Each module is taught first in a notebook, named in its docstring:

- ``settings``    profiles tiny/full/auto and run settings (sprint 10)
- ``paths``       results, caches and run folders (sprint 10)
- ``loading``     GPT-2 tokenizer and model, hub or local, offline fallback (sprint 10)
- ``generation``  decoding strategies and what they change (sprint 10)
- ``data``        every data set by name: DATA_DIR, hub or bundled samples
- ``results``     tables written under results/ (sprint 10)
- ``plots``       the figures the notebooks show (sprint 10)
- ``classify``    sequence classification: inputs and model, fine-tuning, metrics, export, imbalance (sprint 11)
- ``baseline``    the bag-of-words logistic-regression baseline (sprint 11)
- ``batching``    dynamic padding, length grouping, a resumable sampler (sprint 11)
- ``strategies``  which parameters train: full, head, last-k, LoRA (sprint 11)
- ``memory``      training memory: weights+gradients+AdamW computed, the peak measured (sprint 11)
- ``training``    the one training loop every sprint uses (sprints 11-13)
- ``callbacks``   progress bar and live loss plot for that loop (sprint 12)
- ``checkpointing`` atomic, verified checkpoints and resume (sprint 12)
- ``processes``   who writes files under ``accelerate launch``: the main process (sprint 12)
- ``packing``     tokenise once, pack causal-LM blocks (sprint 12)
- ``lm_metrics``  perplexity, style score, copied spans (sprint 12)
- ``instruct``    the Alpaca template, masked labels, response scores (sprint 13)
- ``notebooks``   run a sprint's notebooks, check the .py/.ipynb pairs (``make``)
- ``cli``         the ``gpt2ft`` command: run, check-pairs, lab, book (what ``make`` calls)
- ``book``        the notebooks, cards and notes as a static site (``make book``)

Import the module you need (``from gpt2ft import loading``); importing the
package itself does no work.
"""

__version__ = "0.1.0"
