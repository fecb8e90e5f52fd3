"""Fixtures shared by every test: a real Redis server, settings for tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.servers import redis_server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real redis-server started for this test session."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on a freshly flushed database."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def settings_env(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for a test service: its own data dir, the test Redis, a fixed secret."""
    env = {
        "C3_REDIS_URL": redis_url,
        "C3_DATA_DIR": str(tmp_path / "data"),
        "FLASK_SECRET_KEY": "tests-3f9a1c7e5b2d4f60a8e1c9b7d5f3a1e0",
        "C3_FETCH_ALLOW": "127.0.0.1,localhost",
        "C3_WEBHOOK_ALLOW": "127.0.0.1,localhost",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return env
