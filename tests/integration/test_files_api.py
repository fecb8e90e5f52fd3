"""``POST /uploads`` and ``GET /files/...`` over real HTTP against the real app factory."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from c3render.api import create_app
from c3render.inputs.fetch import fetch_input
from c3render.settings import load_settings
from c3render.storage.local import LocalStorage
from tests.support.http_peers import serve_wsgi
from tests.support.media import wav_bytes

KEY = "test-api-key"
AUTH = {"X-C3-RENDER-KEY": KEY}




WAV = wav_bytes()


@pytest.fixture
def api(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    monkeypatch.setenv("C3_API_KEYS", KEY)
    monkeypatch.setenv("C3_FETCH_MAX_BYTES", str(64 * 1024))
    app = create_app()
    with serve_wsgi(app) as base:
        yield base, app


def test_upload_multipart_then_download_with_ranges(api: tuple[str, Any]) -> None:
    base, _app = api
    answer = requests.post(f"{base}/uploads", headers=AUTH,
                           files={"file": ("../../My voice.wav", WAV, "text/plain")})
    assert answer.status_code == 201, answer.text
    doc = answer.json()
    assert set(doc) >= {"id", "url", "size", "media_type", "expires_at"}
    assert doc["size"] == len(WAV) and doc["media_type"] == "audio/wav"
    assert doc["url"].startswith(f"{base}/files/uploads/{doc['id']}/My_voice.wav?")

    full = requests.get(doc["url"])  # no API key: the link is the credential
    assert full.status_code == 200 and full.content == WAV
    assert full.headers["Content-Type"] == "audio/wav"
    assert full.headers["Content-Length"] == str(len(WAV))
    assert full.headers["Accept-Ranges"] == "bytes"

    part = requests.get(doc["url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == WAV[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(WAV)}"


def test_raw_body_upload_names_the_file_from_content(api: tuple[str, Any]) -> None:
    base, _app = api
    png = (b"\x89PNG\r\n\x1a\n" + bytes(200))
    answer = requests.post(f"{base}/uploads?filename=face.jpeg", data=png,
                           headers={**AUTH, "Content-Type": "image/jpeg"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["media_type"] == "image/png"
    assert "/face.png?" in answer.json()["url"]
    assert requests.get(answer.json()["url"]).content == png


def test_upload_is_a_trusted_job_input(api: tuple[str, Any], tmp_path: Path) -> None:
    base, app = api
    url = requests.post(f"{base}/uploads", headers=AUTH, data=WAV).json()["url"]
    settings = load_settings(fetch_allow=[])  # the guard would refuse 127.0.0.1
    storage = app.extensions["c3render"].storage
    got = fetch_input(url, tmp_path, "audio_url", "audio", settings, storage)
    assert got.read_bytes() == WAV


@pytest.mark.parametrize("how", ["raw", "multipart"])
def test_over_cap_is_413(api: tuple[str, Any], how: str) -> None:
    base, _app = api
    big = WAV[:44] + bytes(100 * 1024)
    if how == "raw":
        answer = requests.post(f"{base}/uploads", headers=AUTH, data=big)
    else:
        answer = requests.post(f"{base}/uploads", headers=AUTH, files={"file": ("a.wav", big)})
    assert answer.status_code == 413
    assert "larger than 64 KB" in answer.json()["error"]


def test_over_cap_chunked_stream_is_413(api: tuple[str, Any]) -> None:
    base, _app = api
    chunks = (WAV[:44] if i == 0 else bytes(16 * 1024) for i in range(10))
    answer = requests.post(f"{base}/uploads", headers=AUTH, data=chunks)
    assert answer.status_code == 413


def test_non_media_is_400_naming_file(api: tuple[str, Any]) -> None:
    base, _app = api
    answer = requests.post(f"{base}/uploads", headers=AUTH, data=b"<html>nope</html>")
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("file ")


def test_uploads_need_the_api_key(api: tuple[str, Any]) -> None:
    base, _app = api
    assert requests.post(f"{base}/uploads", data=WAV).status_code == 401


def test_tampered_and_expired_links_are_403(api: tuple[str, Any]) -> None:
    base, app = api
    url = requests.post(f"{base}/uploads", headers=AUTH, data=WAV).json()["url"]
    tampered = url[:-4] + ("aaaa" if not url.endswith("aaaa") else "bbbb")
    answer = requests.get(tampered)
    assert answer.status_code == 403 and "not valid" in answer.json()["error"]
    other_file = url.replace("/uploads/", "/results/")
    assert requests.get(other_file).status_code == 403

    storage: LocalStorage = app.extensions["c3render"].storage
    key = url.split("/files/", 1)[1].split("?", 1)[0]
    past = int(time.time()) - 1
    expired = f"{base}/files/{key}?expires={past}&signature={storage.sign(key, past)}"
    answer = requests.get(expired)
    assert answer.status_code == 403 and "expired" in answer.json()["error"]
    assert requests.get(f"{base}/files/{key}").status_code == 403


def test_signed_link_to_a_deleted_file_is_404(api: tuple[str, Any]) -> None:
    base, app = api
    storage: LocalStorage = app.extensions["c3render"].storage
    link = storage.link("results/gone/out.wav", base)
    assert requests.get(link).status_code == 404
