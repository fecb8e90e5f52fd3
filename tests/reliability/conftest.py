"""Reliability tests reuse the integration fixtures."""

from tests.integration.conftest import app, client, worker_env  # noqa: F401
