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
    with pytest.raises(ValueError, match="tiny, full, auto"):
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
    ({"LEARNING_RATE": "-1"}, r"LEARNING_RATE=-1.0 .* a positive number"),
    ({"LEARNING_RATE": "nan"}, r"LEARNING_RATE=nan"),
    ({"RESUME": "maybe"}, r"RESUME='maybe' .* not 1 or 0"),
    ({"DATASETS": "sst3"}, r"DATASETS=\['sst3'\] .* Allowed: sst2, imdb"),
    ({"DATASETS": ","}, r"DATASETS=\[\] .* empty"),
    ({"SEED": "-2"}, r"SEED=-2 .* >= 0"),
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
