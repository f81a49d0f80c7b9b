"""Sprint 10's task: next-token tables, decoding strategies and the figures that show them.

- ``decoding``  :data:`~gpt2ft.generate.decoding.DECODING_STRATEGIES`, seeded ``generate``,
  next-token tables, distinct-n and repetition, the positions a decoding loop runs
  (``sprints/sprint10_generation/02_next_token``, ``03_decoding_strategies``, ``06_check_yourself``)
- ``figures``   the GPT-2 pipeline, next-token bars, temperature/top-k/top-p cuts, the strategy
  comparison (``01``-``03``)
"""
