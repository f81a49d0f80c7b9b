"""Profile selection and run settings (gpt2ft.session.settings)."""

import pytest

from gpt2ft.session import settings


def test_auto_picks_full_with_cuda_and_tiny_without():
    assert settings.choose_profile("auto", cuda=True)[0] == "full"
    profile, reason = settings.choose_profile("auto", cuda=False)
    assert profile == "tiny" and "no CUDA" in reason


def test_explicit_profile_wins_over_hardware():
    assert settings.choose_profile("tiny", cuda=True) == ("tiny", "asked for PROFILE=tiny")
    assert settings.choose_profile("FULL", cuda=False)[0] == "full"


def test_unknown_profile_is_refused_with_the_allowed_values():
    with pytest.raises(ValueError, match="tiny, small, full, auto"):
        settings.choose_profile("huge")


def test_environment_is_read_and_arguments_win():
    env = {"PROFILE": "tiny", "MODEL": "gpt2-medium", "SEED": "7"}
    run = settings.resolve(env=env, cuda=False)
    assert (run.profile, run.model, run.seed, run.device) == ("tiny", "gpt2-medium", 7, "cpu")
    run = settings.resolve(profile="full", model="", seed=3, env=env, cuda=False)
    assert (run.profile, run.model, run.seed) == ("full", "gpt2-medium", 3)


def test_profile_defaults_for_the_model():
    assert settings.resolve(profile="tiny", env={}).model == settings.TINY_MODEL
    assert settings.resolve(profile="full", env={}, cuda=False).model == "gpt2"


def test_device_is_cuda_only_for_full_on_a_gpu():
    assert settings.resolve(profile="full", env={}, cuda=True).device == "cuda"
    assert settings.resolve(profile="tiny", env={}, cuda=True).device == "cpu"


def test_bad_data_dir_and_seed_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="DATA_DIR=.*not a folder"):
        settings.resolve(env={"PROFILE": "tiny", "DATA_DIR": str(tmp_path / "nope")})
    with pytest.raises(ValueError, match="SEED='x' is not a whole number"):
        settings.resolve(env={"PROFILE": "tiny", "SEED": "x"})
    assert settings.resolve(env={"PROFILE": "tiny", "DATA_DIR": str(tmp_path)}).data_dir == tmp_path


def test_describe_labels_tiny_numbers_as_smoke():
    assert "smoke numbers" in settings.resolve(profile="tiny", env={}).describe()
    assert "smoke" not in settings.resolve(profile="full", env={}, cuda=False).describe()


# --------------------------------------------------------------------------- configure()

def _cell(**extra):
    """A parameters cell: the full run's values as literals."""
    return dict(PROFILE="auto", MODEL="", DATA_DIR="", SEED=0, EPOCHS=3, LEARNING_RATE=5e-5,
                MAX_STEPS=0, RESUME=True, DATASETS=["sst2", "imdb"], BOOK="tinyshakespeare",
                lowercase_is_ignored=1, **extra)


def test_configure_applies_tiny_then_environment_and_writes_back(capsys):
    cell = _cell()
    run = settings.configure(cell, tiny=dict(EPOCHS=4, LEARNING_RATE=5e-3),
                             env={"PROFILE": "tiny", "MAX_STEPS": "20", "DATASETS": "imdb",
                                  "RESUME": "0", "EPOCHS": "2"}, cuda=False)
    assert (cell["EPOCHS"], cell["LEARNING_RATE"], cell["MAX_STEPS"]) == (2, 5e-3, 20)
    assert cell["DATASETS"] == ["imdb"] and cell["RESUME"] is False
    assert run.profile == "tiny" and run.value("LEARNING_RATE") == 5e-3
    shown = capsys.readouterr().out
    assert "LEARNING_RATE  0.005" in shown and "tiny profile; the cell says 5e-05" in shown
    assert "environment MAX_STEPS" in shown and "BOOK" not in shown  # unchanged: not listed


def test_configure_at_full_keeps_the_literals(capsys):
    cell = _cell()
    run = settings.configure(cell, tiny=dict(EPOCHS=4), env={"PROFILE": "full"}, cuda=False)
    assert cell["EPOCHS"] == 3 and run.profile == "full" and run.model == "gpt2"
    assert "differ" not in capsys.readouterr().out


@pytest.mark.parametrize("env, message", [
    ({"EPOCHS": "abc"}, r"EPOCHS='abc' \(from the environment\) is not a whole number"),
    ({"EPOCHS": "0"}, r"EPOCHS=0 .* Allowed: a whole number >= 1"),
    ({"LEARNING_RATE": "-1"}, r"LEARNING_RATE=-1.0 .* a positive finite number"),
    ({"LEARNING_RATE": "nan"}, r"LEARNING_RATE=nan"),
    ({"RESUME": "maybe"}, r"RESUME='maybe' .* not 1 or 0"),
    ({"DATASETS": "sst3"}, r"DATASETS=\['sst3'\] .* Allowed: sst2, imdb"),
    ({"DATASETS": ","}, r"DATASETS=\[\] .* empty"),
    ({"SEED": "-2"}, r"SEED=-2 .* 0 <= SEED"),
])
def test_configure_refuses_bad_values_naming_the_input_and_the_fix(env, message):
    cell = _cell()
    with pytest.raises(settings.SettingError, match=message) as err:
        settings.configure(cell, env=dict(env, PROFILE="tiny"), choices={"DATASETS": ["sst2", "imdb"]},
                           show=False)
    assert "Fix:" in str(err.value) or "Allowed:" in str(err.value)
    assert cell["EPOCHS"] == 3  # nothing was written back


def test_configure_refuses_a_tiny_override_of_a_missing_setting():
    with pytest.raises(settings.SettingError, match=r"\['EPOCH'\]"):
        settings.configure(_cell(), tiny=dict(EPOCH=1), env={"PROFILE": "tiny"}, show=False)


def test_a_relative_data_dir_error_shows_where_it_resolved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=rf"resolves to {tmp_path}/data"):
        settings.configure(_cell(), env={"PROFILE": "tiny", "DATA_DIR": "data"}, show=False)


def test_the_command_names_the_runner_and_every_setting_from_the_environment(monkeypatch, tmp_path):
    from gpt2ft.session import results
    monkeypatch.setenv("GPT2FT_COMMAND", "make sprint11")
    run = settings.configure(_cell(), env={"PROFILE": "tiny", "DATA_DIR": str(tmp_path),
                                           "DATASETS": "sst2,imdb", "EPOCHS": "1"}, show=False)
    assert run.command == f"make sprint11 PROFILE=tiny DATA_DIR={tmp_path} EPOCHS=1 DATASETS=sst2,imdb"
    meta = results.provenance(run)
    assert meta["data"] == str(tmp_path) and meta["command"] == run.command
    bundled = settings.configure(_cell(), env={"PROFILE": "tiny"}, show=False)
    assert results.provenance(bundled)["data"] == "the project's bundled samples"


def test_a_list_of_numbers_from_the_environment_keeps_its_type():
    cell = dict(PROFILE="tiny", LORA_RANKS=[2, 8, 32], PERCENTILES=[90.0, 95.0], NAMES=["a"])
    settings.configure(cell, env={"PROFILE": "tiny", "LORA_RANKS": "4,16", "PERCENTILES": "99",
                                  "NAMES": "x,y"}, show=False)
    assert cell["LORA_RANKS"] == [4, 16] and cell["PERCENTILES"] == [99.0] and cell["NAMES"] == ["x", "y"]
    with pytest.raises(settings.SettingError, match="LORA_RANKS='4,x'.*comma-separated list of numbers"):
        settings.configure(dict(cell), env={"PROFILE": "tiny", "LORA_RANKS": "4,x"}, show=False)


# --------------------------------------------------------------------------- the run's TrainConfig

def _training_cell(**extra):
    return dict(PROFILE="auto", SEED=0, EPOCHS=3, BATCH_SIZE=8, LEARNING_RATE=5e-5, MAX_STEPS=0,
                MAX_BATCH_TOKENS=0, PATIENCE=0, RESUME=True, **extra)


def test_train_config_carries_every_knob_of_the_cell(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNS_DIR", str(tmp_path))
    cell = _training_cell()
    run = settings.configure(cell, tiny=dict(LEARNING_RATE=5e-3), sprint="sprint12", show=False,
                             env={"PROFILE": "tiny", "MAX_BATCH_TOKENS": "512", "MAX_STEPS": "3"})
    cfg = run.train_config("train", warmup_ratio=0.05, batch_size=4)
    assert (cfg.max_batch_tokens, cfg.max_steps, cfg.learning_rate, cfg.num_epochs) == (512, 3, 5e-3, 3)
    assert cfg.batch_size == 4 and cfg.warmup_ratio == 0.05  # the lesson's own settings win
    assert cfg.early_stopping_patience == 0 and cfg.resume is True  # PATIENCE=0: none
    assert cfg.output_dir == tmp_path / "sprint12" / "tiny" and cfg.run_name == "train"


def test_lora_r_carries_its_alpha(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNS_DIR", str(tmp_path))
    run = settings.configure(_training_cell(LORA_R=16, STRATEGY="lora"), sprint="sprint12", show=False,
                             env={"PROFILE": "tiny"})
    cfg = run.train_config("train", strategy="lora")
    assert (cfg.lora_r, cfg.lora_alpha) == (16, 32)


def test_a_training_knob_is_checked_once_by_the_engines_rule():
    with pytest.raises(settings.SettingError, match=r"MAX_BATCH_TOKENS=-4 .* Allowed: 0 \(the engine's choice"):
        settings.configure(_training_cell(), show=False, env={"PROFILE": "tiny", "MAX_BATCH_TOKENS": "-4"})
    assert "MAX_BATCH_TOKENS" not in settings.RULES and "LEARNING_RATE" not in settings.RULES


def test_a_shared_knob_a_training_notebook_lacks_is_refused(capsys):
    cell = _training_cell()
    del cell["MAX_BATCH_TOKENS"]
    with pytest.raises(settings.SettingError, match=r"MAX_BATCH_TOKENS=256 .* does not apply .* Fix: unset"):
        settings.configure(cell, show=False, env={"PROFILE": "tiny", "MAX_BATCH_TOKENS": "256"})
    settings.configure(dict(N_SAMPLES=3), env={"PROFILE": "tiny", "MAX_BATCH_TOKENS": "256"})
    assert "not used here: MAX_BATCH_TOKENS (this notebook trains nothing)" in capsys.readouterr().out


def test_only_settings_that_really_differ_are_listed(capsys):
    settings.configure(_training_cell(), env={"PROFILE": "tiny", "BATCH_SIZE": "8", "EPOCHS": "2"})
    shown = capsys.readouterr().out
    assert "EPOCHS" in shown and "BATCH_SIZE" not in shown  # 8 is what the cell says


def test_the_sprint_is_read_from_the_notebooks_folder(tmp_path):
    script = tmp_path / "sprint12_book" / "02_finetune.py"
    assert settings._sprint_of({"__file__": str(script)}) == "sprint12"
    assert settings._sprint_of({"__file__": str(tmp_path / "x.py")}) is None
    run = settings.configure({"EPOCHS": 1}, show=False, env={"PROFILE": "tiny"})
    if run.sprint is None:
        with pytest.raises(settings.SettingError, match="not in a sprint folder"):
            run.train_config("x")


# --------------------------------------------------------------------------- the small profile

def _fetched(tmp_path, monkeypatch):
    """A stand-in for the fetched SmolLM2 folder below a private cache (GPT2FT_CACHE)."""
    monkeypatch.setenv("GPT2FT_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "cache" / "models" / "smollm2-135m-instruct"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    return folder


def _beside(tmp_path, monkeypatch, data: bool):
    """Put the checkout at tmp_path/checkout, with (or without) ../shared/data beside it."""
    monkeypatch.setattr(settings, "PACKAGE_DIR", tmp_path / "checkout" / "shared" / "gpt2ft")
    if data:
        (tmp_path / "shared" / "data").mkdir(parents=True)
    return tmp_path / "shared" / "data"


def test_small_is_asked_for_never_picked_by_auto():
    assert settings.choose_profile("small", cuda=False) == ("small", "asked for PROFILE=small")
    assert "small" not in {settings.choose_profile("auto", cuda=c)[0] for c in (True, False)}


def test_small_runs_the_fetched_model_on_the_data_beside_the_checkout_on_a_cpu(tmp_path, monkeypatch):
    folder = _fetched(tmp_path, monkeypatch)
    data = _beside(tmp_path, monkeypatch, data=True)
    run = settings.resolve(profile="small", env={}, cuda=True)
    assert (run.model, run.data_dir, run.device) == (str(folder), data.resolve(), "cpu")
    assert run.is_small and not run.is_tiny and run.label == settings.SMALL_LABEL
    assert "SmolLM2-135M-Instruct, a real model of GPT-2's size; CPU-sized settings" in run.describe()
    assert "smoke" not in run.describe()
    given = tmp_path / "mine"
    given.mkdir()
    run = settings.resolve(profile="small", env={"DATA_DIR": str(given), "MODEL": "gpt2"})
    assert run.data_dir == given and run.model == "gpt2" and "SmolLM2" not in run.label


def test_small_without_the_fetched_model_is_refused_naming_the_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("GPT2FT_CACHE", str(tmp_path / "cache"))
    _beside(tmp_path, monkeypatch, data=True)
    with pytest.raises(FileNotFoundError, match=r"does not exist yet.*make fetch-model.*gpt2ft fetch-model"):
        settings.resolve(profile="small", env={})
    folder = tmp_path / "cache" / "models" / "smollm2-135m-instruct"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")  # no weights: a fetch that did not finish
    with pytest.raises(FileNotFoundError, match=r"is incomplete.*make fetch-model"):
        settings.configure(dict(PROFILE="small", MODEL="", SEED=0), env={}, show=False)


def test_small_without_data_is_refused_where_the_notebook_reads_data(tmp_path, monkeypatch):
    _fetched(tmp_path, monkeypatch)
    beside = _beside(tmp_path, monkeypatch, data=False)
    with pytest.raises(FileNotFoundError, match=rf"from DATA_DIR or from {beside}.*Fix: set DATA_DIR="):
        settings.configure(dict(PROFILE="small", MODEL="", DATA_DIR="", SEED=0), env={}, show=False)
    run = settings.configure(dict(PROFILE="small", MODEL="", SEED=0), env={}, show=False)  # reads no data
    assert run.data_dir is None


def test_configure_applies_the_small_overrides_as_tiny_applies_its_own(tmp_path, monkeypatch, capsys):
    _fetched(tmp_path, monkeypatch)
    _beside(tmp_path, monkeypatch, data=True)
    cell = _cell()
    run = settings.configure(cell, tiny=dict(EPOCHS=4), small=dict(EPOCHS=1, LEARNING_RATE=1e-4),
                             env={"PROFILE": "small", "MAX_STEPS": "20"}, cuda=False)
    assert run.value("EPOCHS") == 1 and run.device == "cpu"
    assert (cell["EPOCHS"], cell["LEARNING_RATE"], cell["MAX_STEPS"]) == (1, 1e-4, 20)
    shown = capsys.readouterr().out
    assert "profile=small (SmolLM2-135M-Instruct" in shown
    assert "EPOCHS         1" in shown and "small profile; the cell says 3" in shown
    tiny = _cell()
    settings.configure(tiny, tiny=dict(EPOCHS=4), small=dict(EPOCHS=1), env={"PROFILE": "tiny"}, show=False)
    assert tiny["EPOCHS"] == 4  # each profile applies its own overrides only
    with pytest.raises(settings.SettingError, match=r"small=\{\.\.\.\} names \['EPOCH'\]"):
        settings.configure(_cell(), small=dict(EPOCH=1), env={"PROFILE": "small"}, show=False)


def test_a_symlinked_data_folder_beside_the_checkout_is_shown_as_named(tmp_path, monkeypatch):
    """CI may put ``../shared`` beside the clone as a link: outputs still say ``../shared/data``."""
    from gpt2ft.session import settings as settings_module
    checkout, elsewhere = tmp_path / "checkout", tmp_path / "disk" / "shared"
    (elsewhere / "data").mkdir(parents=True)
    checkout.mkdir()
    (tmp_path / "shared").symlink_to(elsewhere)
    monkeypatch.setattr(settings_module, "repo_root", lambda: checkout)
    assert settings_module._inside_checkout(tmp_path / "shared" / "data") == "../shared/data"
    assert settings_module._inside_checkout(checkout / ".cache" / "m") == ".cache/m"
    # PROFILE=small's default folder (no DATA_DIR) keeps the link too, so it is shown the same way
    package = checkout / "shared" / "gpt2ft"
    package.mkdir(parents=True)
    monkeypatch.setattr(settings_module, "PACKAGE_DIR", package)
    found = settings_module.small_data_dir(None)
    assert found == tmp_path / "shared" / "data" and settings_module._inside_checkout(found) == "../shared/data"
