"""gpt2ft: the helper package of the GPT-2 fine-tuning notebook sprints.

Each module is taught first in a notebook, named in its docstring:

- ``settings``    profiles tiny/full/auto and run settings (sprint 10)
- ``paths``       results, caches and run folders (sprint 10)
- ``loading``     GPT-2 tokenizer and model, hub or local, offline fallback (sprint 10)
- ``generation``  decoding strategies and what they change (sprint 10)
- ``data``        every data set by name: DATA_DIR, hub or bundled samples
- ``results``     tables written under results/ (sprint 10)
- ``plots``       the figures the notebooks show (sprint 10)

Import the module you need (``from gpt2ft import loading``); importing the
package itself does no work.
"""

__version__ = "0.1.0"
