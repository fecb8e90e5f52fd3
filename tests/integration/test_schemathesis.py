"""Property-based requests from our own /openapi.json (schemathesis): never a 500, and every
answer matches the document (status code, content type, body schema).

A fixed seed (``derandomize``) and a fixed number of cases per operation keep each run the
same, and a time cap per operation bounds it; the requests go over real HTTP to the app on
the test Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from c3render.api import create_app
from c3render.api.routes.docs import openapi_document
from c3render.settings import load_settings
from tests.support.http_peers import serve_wsgi

KEY = "fuzz:schemathesis-key-0123456789"
CASES_PER_OPERATION = 300
TIME_CAP_SECONDS = 120
"""Per operation; on this machine one takes about 4 s (12 operations, 3600 cases in ~45 s)."""
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance]

schema = schemathesis.openapi.from_dict(openapi_document(user_facing=False))  # no worker here


@pytest.fixture
def base_url(settings_env: dict[str, str], redis_client: object) -> Iterator[str]:
    with serve_wsgi(create_app(load_settings(api_keys=[KEY]))) as base:
        yield base


@pytest.mark.timeout(TIME_CAP_SECONDS)
@schema.parametrize()
@settings(max_examples=CASES_PER_OPERATION, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck), database=None)
def test_the_api_keeps_its_own_document(case: schemathesis.Case, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, headers={"X-C3-RENDER-KEY": KEY.split(":", 1)[1]},
                           checks=CHECKS)
