# %% [markdown]
# # Sprint 10 · 04 — A generation playground
#
# Type a prompt, move the sliders, press **Generate**. Sliders at their
# neutral values give greedy decoding; `temperature` > 0 switches sampling on.
# Under automated runs (CI, `make`) the notebook renders the controls and
# generates once with the defaults; nothing waits for a click.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("PROFILE", "auto")  # tiny | full | auto
MODEL = os.environ.get("MODEL", "")
SEED = int(os.environ.get("SEED", "0"))
DEFAULT_PROMPT = "The best way to learn is"

# %%
import ipywidgets as widgets
from IPython.display import display

from gpt2ft import generation, loading, settings

run = settings.resolve(PROFILE, MODEL or None, seed=SEED)
print(run.describe())
tokenizer, model = loading.load(run)

# %% [markdown]
# ## The controls
#
# `temperature = 0` means greedy; `top-k = 0` and `top-p = 1` switch those
# filters off; a repetition penalty of 1 is no penalty.

# %%
controls = {
    "prompt": widgets.Textarea(value=DEFAULT_PROMPT, description="prompt"),
    "temperature": widgets.FloatSlider(value=0.8, min=0.0, max=2.0, step=0.05, description="temperature"),
    "top_k": widgets.IntSlider(value=40, min=0, max=200, description="top-k"),
    "top_p": widgets.FloatSlider(value=0.95, min=0.05, max=1.0, step=0.05, description="top-p"),
    "repetition_penalty": widgets.FloatSlider(value=1.0, min=1.0, max=2.0, step=0.05,
                                              description="rep. penalty"),
    "max_new_tokens": widgets.IntSlider(value=30, min=1, max=200, description="new tokens"),
    "seed": widgets.IntText(value=SEED, description="seed"),
}


def sampling_kwargs(values: dict) -> dict:
    """Slider values -> model.generate arguments (temperature 0 = greedy)."""
    kwargs = {"repetition_penalty": values["repetition_penalty"]}
    if values["temperature"] > 0:
        kwargs.update(do_sample=True, temperature=values["temperature"],
                      top_k=values["top_k"], top_p=values["top_p"])
    else:
        kwargs.update(do_sample=False)
    return kwargs


def run_generation(values: dict) -> str:
    tokens = generation.generate(model, tokenizer, values["prompt"], seed=values["seed"],
                                 max_new_tokens=values["max_new_tokens"], **sampling_kwargs(values))
    return values["prompt"] + tokenizer.decode(tokens, skip_special_tokens=True)


output = widgets.Output()
button = widgets.Button(description="Generate", button_style="primary")


def on_click(_):
    with output:
        output.clear_output()
        print(run_generation({name: w.value for name, w in controls.items()}))


button.on_click(on_click)
display(widgets.VBox([*controls.values(), button, output]))

# %% [markdown]
# What the sliders map to (the arguments `model.generate` receives):

# %%
# NBVAL_CHECK_OUTPUT
defaults = {name: w.value for name, w in controls.items()}
print(sampling_kwargs(defaults))
print(sampling_kwargs({**defaults, "temperature": 0.0}))

# %% [markdown]
# One generation with the default settings, as the button would give:

# %%
print(run_generation(defaults))
