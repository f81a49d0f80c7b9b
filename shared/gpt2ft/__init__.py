"""gpt2ft: the helper package of the GPT-2 fine-tuning notebook sprints.

Its folders are its layers; a module imports only from its own layer or a lower one
(``tests/test_layout.py`` checks it, and that this map names every module):

1. ``core``      foundation: ``paths``, ``models``, ``processes``, ``devices``, ``checks``
2. ``training``  the engine: ``config``, ``inputs``, ``batching``, ``runtime``, ``strategies``,
   ``lm_loss``, ``step``, ``state``, ``checkpointing``, ``runs``, ``loop``, ``evaluation``,
   ``reporting``, ``callbacks``, ``memory``, ``compare``
3. ``session``   what a notebook starts with: ``settings``, ``loading``, ``data``, ``results``, ``selfcheck``
4. the tasks, one package each:
   ``generate`` (sprint 10: ``decoding``, ``figures``),
   ``classify`` (sprint 11: ``classifier``, ``baseline``, ``metrics``, ``prediction``, ``finetune``,
   ``imbalance``, ``export``, ``diagrams``, ``comparison``, ``frozen``),
   ``lm`` (sprint 12: ``packing``, ``measures``, ``figures``),
   ``instruct`` (sprint 13: ``template``, ``records``, ``responses``, ``scoring``, ``figures``)
5. ``tools``     ``notebooks`` (the runner), ``cli``, ``book``, ``cards``, ``fetch``, ``stale``:
   never imported by a notebook

Each module's docstring names the notebook that teaches it. Import the module you need
(``from gpt2ft.session import loading``); importing a package does no work.
"""

__version__ = "0.1.0"
