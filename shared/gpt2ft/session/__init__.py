"""What a notebook starts with: its settings, its model and tokenizer, its data, its result tables.

- ``settings``   the parameters cell settled: profile tiny/small/full/auto, every setting checked once,
  and :meth:`~gpt2ft.session.settings.Settings.train_config`, the run's ``TrainConfig``
  (``sprints/sprint10_generation/01_load_and_inspect``)
- ``loading``    tokenizer and model: hub, local folder or tiny; the offline GPT-2 BPE fallback (sprint 10 ``01``)
- ``data``       every data set by name: DATA_DIR, the bundled samples or the hub (``01_data`` of each sprint)
- ``results``    tables and figures written under ``results/`` with their provenance (sprint 10 ``03``)
- ``selfcheck``  a learner's answer to a check-yourself question checked against one the package
  computes, and explained (sprint 10 ``06``)

This layer sits above the engine (``settings`` builds a :class:`~gpt2ft.training.TrainConfig`);
the engine never imports it.
"""
