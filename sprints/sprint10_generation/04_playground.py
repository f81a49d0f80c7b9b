# %% [markdown]
# # Sprint 10 · 04 — A generation playground
#
# **You will learn**
# - how the decoding settings of `03_decoding_strategies` map onto the
#   arguments of `model.generate` (temperature 0 = greedy);
# - to feel what each setting does by changing one at a time, with the seed
#   fixed so that only that setting changes the text;
# - what the settings do to real text (the outputs here are SmolLM2-135M's,
#   the small profile; see `01_load_and_inspect`), and what to try with the
#   real `gpt2` (`PROFILE=full` or `MODEL=<folder>`); with the tiny profile
#   every setting gives noise.
#
# Type a prompt, move the sliders, press **Generate**. The sliders start at a
# common sampling setting (temperature 0.8, top-k 40, top-p 0.95, no penalty);
# `temperature` 0 gives greedy decoding, anything above 0 samples.
# Under automated runs (CI, `make`) the notebook renders the controls and
# generates once with the defaults; nothing waits for a click.

# %% [markdown]
# ## What the playground looks like once run
#
# Until the notebook runs in JupyterLab (`make lab`), its controls are only a
# text description; this is what they look like live (a screenshot from
# JupyterLab after *Run All* and one click on **Generate**, taken at the small
# profile: its text is SmolLM2's, the same as the generation with the default
# settings below):
#
# ![The playground in JupyterLab: prompt, sliders, seed, the Generate button and its text](04_playground.png)

# %% tags=["parameters"]
PROFILE = "auto"  # tiny | small | full | auto (the environment's PROFILE wins)
MODEL = ""  # "" = gpt2 (full), SmolLM2-135M-Instruct (small), a random tiny GPT-2 (tiny); or a hub name / folder
SEED = 0
DEFAULT_PROMPT = "The best way to learn is"
MAX_NEW_TOKENS = 30  # the "new tokens" slider's starting value

# %%
import ipywidgets as widgets
from IPython.display import display

from gpt2ft.generate import decoding
from gpt2ft.session import loading, settings

run = settings.configure(globals())
tokenizer, model = loading.load(run)

# %% [markdown]
# ## The controls
#
# `temperature = 0` means greedy; `top-k = 0` and `top-p = 1` switch those
# filters off; a repetition penalty of 1 is no penalty.

# %%
# Every label gets the same width, wide enough for the longest one, so none is cut short.
label = {"style": {"description_width": "10em"}, "layout": widgets.Layout(width="36em")}
controls = {
    "prompt": widgets.Textarea(value=DEFAULT_PROMPT, description="prompt", **label),
    "temperature": widgets.FloatSlider(value=0.8, min=0.0, max=2.0, step=0.05, description="temperature", **label),
    "top_k": widgets.IntSlider(value=40, min=0, max=200, description="top-k", **label),
    "top_p": widgets.FloatSlider(value=0.95, min=0.05, max=1.0, step=0.05, description="top-p", **label),
    "repetition_penalty": widgets.FloatSlider(value=1.0, min=1.0, max=2.0, step=0.05,
                                              description="repetition penalty", **label),
    "max_new_tokens": widgets.IntSlider(value=MAX_NEW_TOKENS, min=1, max=max(200, MAX_NEW_TOKENS),
                                        description="new tokens", **label),
    "seed": widgets.IntText(value=SEED, description="seed", **label),
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
    tokens = decoding.generate(model, tokenizer, values["prompt"], seed=values["seed"],
                                 max_new_tokens=values["max_new_tokens"], **sampling_kwargs(values))
    return values["prompt"] + tokenizer.decode(tokens, skip_special_tokens=True)


output = widgets.Output()
button = widgets.Button(description="Generate", button_style="primary",
                        layout=widgets.Layout(margin="4px 0 4px 10.5em"))  # under the sliders


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
# **Reading this output.** The first line is what the defaults send to
# `generate`: sampling at temperature 0.8 among the top 40 tokens, cut to the
# 95 % nucleus, no penalty. The second shows that temperature 0 drops every
# sampling argument: greedy decoding, where top-k and top-p have no effect
# (only the penalty still acts).
#
# One generation with the default settings, as the button would give:

# %%
text = run_generation(defaults)
print(text)

# %% [markdown]
# **Reading this output.** The prompt followed by 30 new tokens of real
# text: "to learn from the people who have been the most influential", then a
# new paragraph that drifts to culture and values and stops mid-sentence at
# the token limit (the "new tokens" slider). Every click with the same seed
# and settings prints exactly this; a new seed draws another text.
#
# What moving one slider does, at the same seed (each line is what the button
# would print with that one change from the defaults):

# %%
tries = {
    "temperature 0.3": {**defaults, "temperature": 0.3},
    "temperature 1.5": {**defaults, "temperature": 1.5},
    "temperature 1.5, top-k 0 and top-p 1 (no filter)": {**defaults, "temperature": 1.5, "top_k": 0, "top_p": 1.0},
    "greedy (temperature 0)": {**defaults, "temperature": 0.0},
    "greedy, repetition penalty 1.5": {**defaults, "temperature": 0.0, "repetition_penalty": 1.5},
}
for name, values in tries.items():
    print(f"{name}:\n  {run_generation(values)!r}")

# %% [markdown]
# **Reading this output.** Each line changes one thing:
#
# - **temperature 0.3** is close to greedy: "start with the basics … the
#   basics of programming … the basics of programming", the same words coming
#   back; **greedy** itself says "the basics" three times in 30 tokens.
# - **temperature 1.5** with the default top-k 40 and top-p 0.95 still reads
#   well ("by doing. By focusing on practicing …"): the filters keep only
#   plausible tokens, however flat the temperature makes them.
# - **temperature 1.5 with no filter** falls apart within a sentence ("helps
#   conduct experiments proud fin knots, follow flight length %"): with all
#   49,152 tokens in play, the lifted tail gets drawn.
# - **greedy with a repetition penalty of 1.5** leaves "the basics" after
#   one use and writes a fluent, different sentence ("by doing. This means
#   that the most effective learning occurs when …").
#
# Try them in JupyterLab with the sliders, then your own prompts. **With
# `gpt2`** (`PROFILE=full`), the same experiments should show the same
# pattern (Holtzman et al. 2020, on GPT-2 Large: greedy text is generic and
# loops, unfiltered sampling is incoherent, top-p reads closest to human
# text; see the sprint card). At tiny every line is noise.
#
# ## What you learned
#
# - Every control is one `generate` argument; temperature 0 means greedy,
#   `top-k = 0` and `top-p = 1` switch those filters off.
# - With the seed fixed, the text changes only when a setting changes the
#   distribution enough to change a draw.
# - On a real model the settings change the text in the ways measured in
#   `03_decoding_strategies`: low temperatures and greedy repeat themselves, a
#   high temperature needs top-k or top-p to stay readable, and the penalty
#   breaks loops. The tiny profile shows the mechanics only. This run:

# %%
print(f"profile {run.profile}, model {run.model_shown}: {defaults['max_new_tokens']} new tokens "
      f"with {sampling_kwargs(defaults)}")
