"""Sprint 12's task: a book as causal-LM training data, and what fine-tuning did to the model.

- ``packing``   tokenise once (cached, checked against its text and tokenizer), cut blocks,
  split train/validation (``sprints/sprint12_book/01_prepare_data``)
- ``measures``  mean loss and perplexity, the unigram baseline, style score, n-gram overlap,
  copied spans, held-in/held-out spans written back (``02_finetune``, ``04_evaluate``)
- ``figures``   the notebooks' figures: the packed stream, the label shift, the exercises'
  curves (``01``, ``02``, ``06``)
"""
