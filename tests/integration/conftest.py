"""Fixtures for tests of the API and workers against a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from c3render.api import create_app
from c3render.queue.leases import Leases
from c3render.queue.reading import Reader
from c3render.queue.registry import WorkerRegistry
from c3render.queue.store import JobStore
from c3render.settings import load_settings
from tests.support.service import FIXTURE_ENGINES, service_env, worker_process


@pytest.fixture
def app(settings_env: dict[str, str], redis_client: object) -> Flask:
    """The API app on the test Redis (flushed), with the test data directory."""
    return create_app(load_settings())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture
def worker_env(settings_env: dict[str, str]) -> dict[str, str]:
    """Environment of worker subprocesses: fixture engines, fast heartbeats."""
    return service_env(
        settings_env,
        C3_ENGINES=FIXTURE_ENGINES,
        C3_HEARTBEAT_SECONDS="0.5",
        C3_LIVENESS_SECONDS="1.5", C3_RECLAIM_IDLE_SECONDS="5",
        C3_SHUTDOWN_GRACE_SECONDS="1",
        C3_STOP_GRACE_SECONDS="0",  # a stopped run's engine is killed at once, as before
        # the grace existed; tests of the cooperative stop set their own
        C3_RETRY_BACKOFF_SECONDS="0.2",
    )


@pytest.fixture
def worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[object]:
    """One worker subprocess serving csm and analyze with the scripted fixture engine."""
    with worker_process(worker_env, log=tmp_path / "worker.log") as process:
        yield process


@pytest.fixture
def http_image_url(tmp_path: Path) -> Iterator[str]:
    """A URL on a local HTTP server that serves a small PNG."""
    import http.server
    import threading

    from PIL import Image

    root = tmp_path / "www"
    root.mkdir()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(root / "red.png")
    handler = lambda *args: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *args, directory=str(root)
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/red.png"
    server.shutdown()


@pytest.fixture
def leases(store: JobStore) -> Leases:
    """The worker side of the module's queue (its ``store`` fixture)."""
    return Leases(store.redis, store.settings)


@pytest.fixture
def reader(store: JobStore) -> Reader:
    """How workers find entries in the module's queue (its ``store`` fixture)."""
    return Reader(store.redis, store.settings, WorkerRegistry(store.redis))
