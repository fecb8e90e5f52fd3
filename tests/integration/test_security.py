"""Secure defaults of the API: weak secrets refused, auth on every route of the URL map,
security headers, a health document without ids, and hand-written hostile requests."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from c3render.api import create_app
from c3render.errors import ConfigError
from c3render.settings import WEAK_SECRETS, load_settings
from tests.support.service import ROOT, service_env

KEY = "ui:7Qf3-api-key-for-tests-only"
AUTH = {"X-C3-RENDER-KEY": KEY.split(":", 1)[1]}
PUBLIC = {"health.health", "docs.openapi", "files.get_file", "docs_page.page",
          "docs_page.start_script", "docs_page.asset", "ui.index", "ui.slash", "ui.asset"}
"""The only endpoints that answer without a key (health, the OpenAPI document, signed links,
and the static pages and assets of /docs and /ui, which hold no data: the pages ask for a key
before they call the API); a new one must be added here on purpose."""


@pytest.fixture
def keyed(settings_env: dict[str, str], redis_client: object) -> Flask:
    return create_app(load_settings(api_keys=[KEY]))


def _sample_secrets() -> set[str]:
    """Every FLASK_SECRET_KEY value written in the samples, the docs and compose.yaml."""
    found = {"change-me"}
    for name in ("env.sample", "README.md", "compose.yaml"):
        text = (ROOT / name).read_text()
        found.update(re.findall(r"FLASK_SECRET_KEY[=:]\s*\$?\{?(?:FLASK_SECRET_KEY:-)?([\w-]+)",
                                text))
    return found - {"FLASK_SECRET_KEY"}


@pytest.mark.parametrize("secret", ["", "   ", "change-me", "CHANGE-ME", "test-secret", "short"])
def test_weak_secret_keys_stop_the_api(settings_env: dict[str, str], secret: str) -> None:
    with pytest.raises(ConfigError, match=r"secrets\.token_hex\(32\)"):
        create_app(load_settings(flask_secret_key=secret))


def test_every_sample_secret_is_refused(settings_env: dict[str, str]) -> None:
    for secret in _sample_secrets() | WEAK_SECRETS:
        with pytest.raises(ConfigError):
            create_app(load_settings(flask_secret_key=secret))
    assert "change-me" not in (ROOT / "compose.yaml").read_text()


def test_unset_secret_uses_the_generated_key(settings_env: dict[str, str],
                                             monkeypatch: pytest.MonkeyPatch,
                                             redis_client: object) -> None:
    monkeypatch.delenv("FLASK_SECRET_KEY")
    app = create_app()
    assert len(app.extensions["c3render"].settings.secret_key) == 64


def test_the_worker_refuses_a_weak_secret(settings_env: dict[str, str]) -> None:
    env = service_env(settings_env, FLASK_SECRET_KEY="change-me")
    done = subprocess.run([sys.executable, "-m", "c3render.cli", "worker"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "FLASK_SECRET_KEY" in done.stdout + done.stderr
    assert "token_hex" in done.stdout + done.stderr


def test_an_open_farm_warns_on_start(settings_env: dict[str, str], redis_client: object,
                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        create_app(load_settings(api_host="0.0.0.0"))
    assert any("no API keys" in record.getMessage() for record in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        create_app(load_settings(api_host="127.0.0.1"))
        create_app(load_settings(api_host="0.0.0.0", api_keys=[KEY]))
    assert not any("no API keys" in record.getMessage() for record in caplog.records)


def _example_url(rule: object) -> str:
    url = str(rule)
    url = url.replace("<job_id>", str(uuid.uuid4())).replace("<path:key>", "results/x/a.mp3")
    url = url.replace("<path:name>", "swagger-ui.css").replace("<name>", "app.js")
    assert "<" not in url, f"add an example value for {url}"
    return url


def test_every_route_but_the_public_ones_needs_a_key(keyed: Flask) -> None:
    client = keyed.test_client()
    checked = 0
    for rule in keyed.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            url = _example_url(rule)
            answer = client.open(url, method=method, json={})
            if rule.endpoint in PUBLIC:
                assert answer.status_code != 401, (method, url)
            else:
                assert answer.status_code == 401, (method, url, answer.status_code)
                assert client.open(url, method=method, json={},
                                   headers=AUTH).status_code != 401, (method, url)
                checked += 1
    assert checked >= 9  # 4 submissions, status, result, control, jobs, uploads


def test_security_headers_on_every_kind_of_response(keyed: Flask) -> None:
    client = keyed.test_client()
    answers = [client.get("/"), client.get("/openapi.json"), client.get("/nowhere"),
               client.post("/csm", json={}), client.post("/csm", json={}, headers=AUTH),
               client.get("/files/x?expires=1&signature=x")]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["Server"] == "c3-render"  # no framework or version banner


def test_served_files_carry_content_disposition(keyed: Flask, tmp_path: Path) -> None:
    storage = keyed.extensions["c3render"].storage
    source = tmp_path / "a.txt"
    source.write_bytes(b"<script>alert(1)</script>")
    storage.put_file("results/j/a.html", source, "text/html")
    answer = keyed.test_client().get(storage.link("results/j/a.html", "http://localhost"))
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].startswith("inline")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in answer.headers["Content-Security-Policy"]


def test_forged_and_extended_links_are_403(keyed: Flask, tmp_path: Path) -> None:
    storage = keyed.extensions["c3render"].storage
    source = tmp_path / "a.wav"
    source.write_bytes(b"RIFF....WAVE")
    storage.put_file("results/j/a.wav", source, "audio/wav")
    link = storage.link("results/j/a.wav", "http://localhost")
    client = keyed.test_client()
    expires = int(link.split("expires=")[1].split("&")[0])
    extended = link.replace(f"expires={expires}", f"expires={expires + 86400}")
    assert client.get(extended).status_code == 403
    forged = link.replace("results/j/a.wav", "results/k/a.wav")
    assert client.get(forged).status_code == 403
    assert client.get(link).status_code == 200


def test_health_shows_counts_not_ids(client: FlaskClient, redis_client: object) -> None:
    from c3render.queue.registry import WorkerRegistry

    registry = WorkerRegistry(redis_client)  # type: ignore[arg-type]
    pipe = redis_client.pipeline()  # type: ignore[attr-defined]
    job_id = str(uuid.uuid4())
    info = {"id": "host-1-abc", "host": "gpu-box.internal", "types": ["csm"],
            "running": [job_id], "started_at": time.time()}
    registry.announce(pipe, "host-1-abc", info, 30)
    pipe.execute()
    answer = client.get("/")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert answer.get_json()["workers"] == 1 and answer.get_json()["running"] == 1
    for secret in (job_id, "gpu-box", "host-1-abc"):
        assert secret not in text


def test_health_does_not_tell_redis_errors(settings_env: dict[str, str]) -> None:
    settings = load_settings(redis_url="redis://:hunter2-pass@127.0.0.1:1/0")
    client = create_app(settings).test_client()
    answer = client.get("/")
    assert answer.status_code == 503
    assert answer.get_json()["redis"] == "unreachable"
    assert "127.0.0.1" not in answer.get_data(as_text=True)


HOSTILE_GETS = [
    "/files/x?expires=%C2%B2&signature=ab",  # '²'.isdigit() is True, int('²') raises
    "/files/x?expires=99999999999&signature=%C3%A9",  # a non-ASCII signature
    "/files/x?expires=" + "9" * 5000 + "&signature=ab",
    "/jobs?limit=%C2%B2", "/jobs?offset=%D9%A1", "/jobs?limit=" + "9" * 5000,
    "/status/..%2F..%2Fetc%2Fpasswd", "/status/" + "a" * 10000, "/status/%00",
    "/result/" + "\u0661" * 36, "/files/../../secret_key?expires=1&signature=x",
    "/files/results/%2e%2e/%2e%2e/secret_key?expires=99999999999&signature=x",
]


@pytest.mark.parametrize("url", HOSTILE_GETS)
def test_hostile_urls_get_a_clear_4xx(client: FlaskClient, url: str) -> None:
    answer = client.get(url)
    assert 400 <= answer.status_code < 500, (url, answer.status_code)
    assert answer.get_json()["error"]
    assert len(answer.get_data()) < 2000  # an id is not echoed back whole


HOSTILE_BODIES = [
    (b'{"text": "' + b"a" * (100 * 1024 * 1024) + b'"}', 413),  # 100 MB
    (b"[" * 100_000, 400),
    (b'{"text":' + b'{"a":' * 5000 + b"1" + b"}" * 5001, 400),
    (b'{"text": "a", "temperature": NaN}', 400),
    (b'{"text": "a", "temperature": Infinity}', 400),
    (b'{"text": "a", "temperature": -1e999}', 400),
    (b'{"text": "a", "topk": 1' + b"0" * 5000 + b"}", 400),
    (b'{"text": "a", "topk": 1e2}', 400),
    (b'{"text": "a", "topk": "\xd9\xa1"}', 400),
    (b'{"text": "a\\u0000b"}', 400),
    (b'{"text": "\\u001b[2J"}', 400),
    (b'{"text": "\\ud800"}', 400),
    (b"\xef\xbb\xbf\xff\xfe", 400),
]


@pytest.mark.parametrize(("body", "status"), HOSTILE_BODIES)
def test_hostile_bodies_get_a_clear_4xx(client: FlaskClient, body: bytes, status: int) -> None:
    answer = client.post("/csm", data=body, content_type="application/json")
    assert answer.status_code == status, (body[:60], answer.get_json())
    assert answer.get_json()["error"]


def test_absurd_headers_get_a_clear_answer(keyed: Flask) -> None:
    client = keyed.test_client()
    cases = [
        {"X-C3-RENDER-KEY": "\u00e9" * 5000}, {"Authorization": "Bearer " + "x" * 100_000},
        {"Authorization": "Basic " + "=" * 50}, {**AUTH, "Idempotency-Key": "k" * 10_000},
        {**AUTH, "Content-Type": "application/json; charset=" + "x" * 10_000},
        {**AUTH, "Content-Length": "-5"}, {**AUTH, "Content-Type": "text/plain"},
    ]
    for headers in cases:
        answer = client.post("/csm", data=b'{"text": "a"}', headers=headers)
        assert answer.status_code < 500, headers
        assert answer.status_code in (200, 400, 401, 413), (headers, answer.status_code)


def test_short_api_keys_are_warned_about_by_name(settings_env: dict[str, str],
                                                 redis_client: object,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        create_app(load_settings(api_keys=["tiny:abc123", KEY]))
    assert "API key 'tiny' is shorter than 16 characters" in caplog.text
    assert "abc123" not in caplog.text and "'ui'" not in caplog.text
