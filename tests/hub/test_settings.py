"""Settings precedence (flags > env > TOML > defaults) and the generated secret."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hub.settings import SECRET_FILE, Settings, ensure_secret, load_settings


def test_precedence(tmp_path: Path) -> None:
    toml = tmp_path / "hub.toml"
    toml.write_text('[hub]\nhost = "0.0.0.0"\nport = 4000\nlog_level = "DEBUG"\n')
    env = {"CHIT_HUB_PORT": "4001", "CHIT_HUB_LOG_LEVEL": "WARNING"}
    settings = load_settings({"port": 4002}, environ=env, config_file=toml)
    assert settings.port == 4002
    assert settings.log_level == "WARNING"
    assert settings.host == "0.0.0.0"
    assert load_settings({}, environ={}).port == 3001
    assert load_settings({}, environ={}).host == "127.0.0.1"


def test_config_file_from_environment(tmp_path: Path) -> None:
    toml = tmp_path / "hub.toml"
    toml.write_text("port = 4100\ncors_origins = ['https://a.example']\n")
    settings = load_settings({}, environ={"CHIT_HUB_CONFIG": str(toml)})
    assert settings.port == 4100
    assert settings.cors_origins == ("https://a.example",)


def test_unknown_toml_setting_is_an_error(tmp_path: Path) -> None:
    toml = tmp_path / "hub.toml"
    toml.write_text("prot = 1\n")
    with pytest.raises(ValueError, match="prot"):
        load_settings({}, environ={}, config_file=toml)


def test_secret_generated_once_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = ensure_secret(settings).jwt_secret
    second = ensure_secret(settings).jwt_secret
    assert first and first == second
    mode = stat.S_IMODE((tmp_path / "data" / SECRET_FILE).stat().st_mode)
    assert mode == 0o600


def test_configured_secret_wins(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, jwt_secret="configured")
    assert ensure_secret(settings).jwt_secret == "configured"
    assert not (tmp_path / SECRET_FILE).exists()
