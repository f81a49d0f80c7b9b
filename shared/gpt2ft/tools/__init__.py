"""Tooling around the notebooks; no notebook imports it.

- ``notebooks``  run a sprint's notebooks (``make sprintNN``), check the ``.py``/``.ipynb`` pairs
- ``cli``        the ``gpt2ft`` command: run, check-pairs, lab, book, cards, stale (what ``make`` calls)
- ``book``       the notebooks, cards and notes as a static site (``make book``)
- ``cards``      the cards' key results, written from the committed result files (``make cards``)
- ``fetch``      the small profile's model (SmolLM2-135M-Instruct), fetched once and checked
- ``stale``      the results made before a later change to the code they ran (``make stale``)
"""
