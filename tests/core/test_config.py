"""Settings: flags > VLLM_CHAT_* env > OPENAI_* env > config file > defaults, and
bad configs stop with one clear message."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from vllm_chat.core.config import (
    DEFAULT_BASE_URL,
    ConfigError,
    Settings,
    SettingsModel,
    load_settings,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config.example.toml"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_point_at_a_local_vllm_with_the_placeholder_key() -> None:
    settings = load_settings()
    assert settings.base_url == DEFAULT_BASE_URL == "http://localhost:8000/v1"
    assert settings.api_key.get_secret_value() == "EMPTY"
    assert settings.model is None


def test_each_layer_overrides_the_one_below(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "c.toml", 'base_url = "http://file:1/v1"\nmodel = "from-file"\n'
                                        'api_key = "file-key"\n[sampling]\ntemperature = 0.1\n')
    monkeypatch.setenv("VLLM_CHAT_CONFIG", str(config))
    assert load_settings().model == "from-file"

    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai-env:2/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key")
    s = load_settings()
    assert (s.base_url, s.api_key.get_secret_value()) == ("http://openai-env:2/v1", "openai-key")

    monkeypatch.setenv("VLLM_CHAT_BASE_URL", "http://vllm-env:3/v1")
    monkeypatch.setenv("VLLM_CHAT_API_KEY", "vllm-key")
    monkeypatch.setenv("VLLM_CHAT_SAMPLING__TEMPERATURE", "0.5")
    s = load_settings()
    assert (s.base_url, s.api_key.get_secret_value()) == ("http://vllm-env:3/v1", "vllm-key")
    assert s.sampling.temperature == 0.5

    s = load_settings({"base_url": "http://flag:4/v1", "sampling": {"temperature": 0.9}})
    assert s.base_url == "http://flag:4/v1"
    assert s.sampling.temperature == 0.9
    assert s.model == "from-file"  # untouched layers still show through


def test_flags_for_one_table_key_keep_the_files_other_keys(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "[sampling]\ntemperature = 0.1\ntop_p = 0.5\n")
    s = load_settings({"sampling": {"temperature": 0.7}}, config_path=config)
    assert (s.sampling.temperature, s.sampling.top_p) == (0.7, 0.5)


def test_a_profile_is_laid_over_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", 'model = "base"\n[sampling]\ntop_p = 0.5\n'
                                        '[profiles.gpu]\nbase_url = "http://gpu:8000/v1"\n'
                                        '[profiles.gpu.sampling]\ntemperature = 0.3\n')
    s = load_settings(config_path=config, profile="gpu")
    assert (s.base_url, s.model, s.profile) == ("http://gpu:8000/v1", "base", "gpu")
    assert (s.sampling.temperature, s.sampling.top_p) == (0.3, 0.5)


def test_the_files_default_profile_is_used_without_the_flag(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", 'profile = "b"\n[profiles.b]\nmodel = "bee"\n')
    assert load_settings(config_path=config).model == "bee"


def test_an_unknown_profile_names_the_ones_that_exist(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "[profiles.alpha]\n[profiles.beta]\n")
    with pytest.raises(ConfigError, match=r"profile 'gamma' does not exist \(profiles: alpha, beta\)"):
        load_settings(config_path=config, profile="gamma")


def test_a_missing_default_config_is_fine_but_a_named_one_is_an_error(tmp_path: Path) -> None:
    load_settings()
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(config_path=tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("temprature = 1\n",
         r"c\.toml: temprature: unknown key \(did you mean 'temperature' in the \[sampling\] table\?\)"),
        ("[sampling]\nbase_ur = 1\n", r"sampling\.base_ur: unknown key \(did you mean 'base_url' at the top level\?\)"),
        ("[tools]\nbuiltin = []\n", r"c\.toml: tools\.builtin: unknown key \(did you mean 'builtins'\?\)"),
        ("zzzz = 1\n", r"c\.toml: zzzz: unknown key \(check the spelling against config\.example\.toml\)"),
        ("[sampling]\ntemperature = \"hot\"\n", r"c\.toml: sampling\.temperature: .*valid number.*'hot'"),
        ("[sampling]\ntemperature = 5\n", r"c\.toml: sampling\.temperature: .*less than or equal to 2"),
        ("[tools]\nmax_rounds = 0\n", r"c\.toml: tools\.max_rounds: .*greater than or equal to 1"),
        ("base_url = \"localhost:8000\"\n", r"c\.toml: base_url: .*http:// or https://"),
        ("[[tools.python]]\nfunction = \"nocolon\"\n", r"tools\.python\.0\.function: .*package\.module:function"),
        ("base_url = \n", r"c\.toml is not valid TOML: .*line 1"),
    ],
)
def test_a_bad_config_names_the_file_the_key_and_the_problem(tmp_path: Path, toml: str, expected: str) -> None:
    config = write(tmp_path / "c.toml", toml)
    with pytest.raises(ConfigError) as info:
        load_settings(config_path=config)
    assert re.search(expected, str(info.value)), str(info.value)
    assert str(config) in str(info.value)


def test_a_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_CHAT_SAMPLING__TOP_P", "5")
    with pytest.raises(ConfigError, match=r"Environment variable VLLM_CHAT_SAMPLING__TOP_P: sampling\.top_p"):
        load_settings()


def test_an_unreadable_config_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_bytes(b"\xff\xfe bad")
    with pytest.raises(ConfigError, match="can't be read"):
        load_settings(config_path=config)


def test_the_cli_exits_2_with_one_line_per_problem_and_no_traceback(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "temprature = 1\n[sampling]\ntop_p = 7\n")
    result = subprocess.run([sys.executable, "-m", "vllm_chat", "--config", str(config), "-p", "hi"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "temprature: unknown key" in result.stderr
    assert "sampling.top_p" in result.stderr
    assert result.stdout == ""


def test_the_example_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(config_path=EXAMPLE)
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.tools.max_rounds == 8
    assert "local" not in (settings.profile or "")


def _field_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        if name == "config_file":
            continue
        paths.append(prefix + name)
        annotation = field.annotation
        inner = getattr(annotation, "__args__", None)
        candidates = [annotation, *(inner or [])]
        for cand in candidates:
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                paths.extend(_field_paths(cand, prefix + name + "."))
    return paths


def test_the_example_config_documents_every_setting() -> None:
    text = EXAMPLE.read_text()
    missing = []
    for path in _field_paths(SettingsModel):
        key = path.split(".")[-1]
        if not re.search(rf"^\s*(#\s*)?(\[+)?({re.escape(path)}|{re.escape(key)})(\]+|\s*=|\.)", text, re.M):
            missing.append(path)
    assert not missing, f"config.example.toml does not mention: {missing}"


def test_settings_never_show_the_key_in_their_repr() -> None:
    s = Settings(api_key="sk-secret-value-123")
    assert "sk-secret-value-123" not in repr(s)
    assert "sk-secret-value-123" not in str(s.model_dump())
