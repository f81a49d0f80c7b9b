"""The foundation: what every other layer may use, and which uses nothing of the package above it.

- ``paths``      the repository, results, caches and run folders; :func:`~gpt2ft.core.paths.writing`
  turns a failed write into an error that names the folder and the fix
  (``sprints/sprint10_generation/01_load_and_inspect``)
- ``models``     what a model says about itself: context length, parameters by part,
  the tiny random GPT-2 of the tests and the tiny profile (sprint 10 ``01``)
- ``processes``  who writes files under ``accelerate launch``: the main process (sprint 12 ``05``)
- ``devices``    ``CHECK_DEVICES=1``: a tensor never moved to the model's device fails on a CPU
  as it would on a GPU (sprint 11 ``04``)
- ``checks``     by-hand results compared with the library's, raising with both values on a
  mismatch (sprint 10 ``02``)
"""
