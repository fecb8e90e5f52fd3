"""Random bodies never produce a 500: every submission is accepted (200) or refused (400/413)."""

from __future__ import annotations

import json
import random

import pytest
from flask.testing import FlaskClient

from c3render.api.schemas import REQUEST_SCHEMAS, ControlRequest

VALUES = [
    None, True, False, 0, -1, 1, 59, 60, 7200, 86401, 1e309, -0.0, 0.5, 2.0001, 10**30, "",
    " ", "x", "random_voice", "clone", "http://example.org/a.wav", "ftp://x", "https://",
    "\u0000", "\ud7ff" * 3, [], [""], ["ok"], [1, 2], {}, {"a": 1}, "a" * 5000,
]


def _bodies(fields: list[str], rng: random.Random, count: int) -> list[str]:
    bodies = []
    for _ in range(count):
        chosen = rng.sample(fields, rng.randint(0, len(fields)))
        bodies.append(json.dumps({name: rng.choice(VALUES) for name in chosen}))
    return bodies


@pytest.mark.parametrize("job_type", list(REQUEST_SCHEMAS))
def test_random_submissions_never_fail_the_server(client: FlaskClient, job_type: object) -> None:
    schema = REQUEST_SCHEMAS[job_type]  # type: ignore[index]
    rng = random.Random(f"fuzz-{job_type}")
    for body in _bodies(list(schema.model_fields), rng, 150):
        response = client.post(f"/{job_type.value}", data=body,  # type: ignore[attr-defined]
                               content_type="application/json")
        assert response.status_code in (200, 400), (body, response.get_json())
        doc = response.get_json()
        assert ("id" in doc) if response.status_code == 200 else doc["error"]


def test_random_control_requests_never_fail_the_server(client: FlaskClient) -> None:
    job_id = client.post("/csm", json={"text": "x"}).get_json()["id"]
    rng = random.Random("fuzz-control")
    for body in _bodies(list(ControlRequest.model_fields), rng, 100):
        response = client.post(f"/job/{job_id}", data=body, content_type="application/json")
        assert response.status_code in (200, 400, 409), (body, response.get_json())


def test_raw_garbage_bodies(client: FlaskClient) -> None:
    for raw in (b"\xff\xfe", b"null", b"1", b'{"text": "a"', b"{" * 10000, b'{"text": "\\ud800"}'):
        response = client.post("/csm", data=raw, content_type="application/json")
        assert response.status_code == 400, raw
