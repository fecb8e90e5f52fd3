"""Settings: the contract's variable names, PORT fallback, one-line errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from c3render.errors import ConfigError
from c3render.settings import load_settings


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("API_PORT", "PORT", "REDIS_HOST", "REDIS_PORT", "C3_REDIS_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)


def test_contract_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "cache")
    monkeypatch.setenv("REDIS_PORT", "6380")
    monkeypatch.setenv("API_PORT", "8080")
    settings = load_settings()
    assert settings.redis_dsn == "redis://cache:6380/0"
    assert settings.api_port == 8080


def test_port_is_a_fallback_for_api_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "7000")
    assert load_settings().api_port == 7000
    monkeypatch.setenv("API_PORT", "7001")
    assert load_settings().api_port == 7001


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("API_PORT=5055\nC3_API_KEYS=a,b\n")
    settings = load_settings()
    assert settings.api_port == 5055
    assert settings.api_keys == ["a", "b"]


def test_bad_setting_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PORT", "eighty")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "API_PORT" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_secret_key_is_generated_once_per_data_dir(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path / "d").secret_key
    second = load_settings(data_dir=tmp_path / "d").secret_key
    assert first == second and len(first) == 64


def test_the_generated_secret_key_is_the_same_for_racing_processes(tmp_path, monkeypatch) -> None:
    """Processes starting together all read the one key that was written in full."""
    monkeypatch.delenv("FLASK_SECRET_KEY", raising=False)
    settings = [load_settings(data_dir=tmp_path / "data") for _ in range(16)]
    with ThreadPoolExecutor(16) as pool:
        keys = set(pool.map(lambda each: each.secret_key, settings))
    assert len(keys) == 1 and len(next(iter(keys))) == 64
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["secret_key"]
