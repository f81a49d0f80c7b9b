"""Profile selection and run settings (gpt2ft.settings)."""

import pytest

from gpt2ft import settings


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
