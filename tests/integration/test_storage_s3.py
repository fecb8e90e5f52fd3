"""S3 storage against moto's standalone server: a real HTTP S3 endpoint on localhost.

Note: moto's server does not check presigned-URL signatures or expiry (it answers 200 to a
tampered link; real S3 and MinIO answer 403), so the tampered/expired checks here are those
of ``S3Storage.key_for_url``, which decides whether a link is a trusted job input.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from moto.server import ThreadedMotoServer

from c3render.errors import NotFound
from c3render.inputs import fetch
from c3render.inputs.fetch import fetch_input
from c3render.settings import Settings
from c3render.storage import create_storage
from c3render.storage.s3 import S3Storage
from tests.support.servers import free_port


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_settings(endpoint: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        storage="s3", s3_bucket="c3-render-test", s3_endpoint_url=endpoint, s3_region="eu-west-1",
        s3_access_key_id="AKIDTEST", s3_secret_access_key="secret-test", s3_prefix="c3/",
        data_dir=tmp_path / "data", flask_secret_key="k", fetch_allow=[], link_seconds=3600,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def storage(endpoint: str, tmp_path: Path) -> S3Storage:
    made = create_storage(s3_settings(endpoint, tmp_path))
    assert isinstance(made, S3Storage)
    return made


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "speech.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + os.urandom(300_000))
    return path


def test_put_and_download_through_the_presigned_link(storage: S3Storage, source: Path) -> None:
    storage.put_file("results/job-1/speech.wav", source, "audio/wav")
    link = storage.link("results/job-1/speech.wav", "http://ignored")
    assert "/c3-render-test/c3/results/job-1/speech.wav?" in link
    assert "X-Amz-Expires=3600" in link
    answer = requests.get(link, timeout=10)
    assert answer.status_code == 200 and answer.content == source.read_bytes()
    assert answer.headers["Content-Type"] == "audio/wav"


def test_link_recognised_only_when_signed_and_unexpired(
    storage: S3Storage, source: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    link = storage.link("results/job-1/speech.wav", "http://ignored")
    assert storage.key_for_url(link) == "results/job-1/speech.wav"
    assert storage.key_for_url(link.replace("job-1", "job-2")) is None
    assert storage.key_for_url(link.replace("X-Amz-Signature=", "X-Amz-Signature=f")) is None
    assert storage.key_for_url(link.replace("X-Amz-Expires=3600", "X-Amz-Expires=9999")) is None
    assert storage.key_for_url(link.replace("127.0.0.1", "localhost")) is None
    later = time.time() + 3601
    monkeypatch.setattr("c3render.storage.s3.time.time", lambda: later)
    assert storage.key_for_url(link) is None


def test_other_credentials_do_not_verify(endpoint: str, tmp_path: Path,
                                         storage: S3Storage) -> None:
    other = create_storage(s3_settings(endpoint, tmp_path, s3_secret_access_key="another"))
    assert other.key_for_url(storage.link("results/job-1/speech.wav", "x")) is None


def test_presigned_links_are_capped_at_seven_days(endpoint: str, tmp_path: Path) -> None:
    long = create_storage(s3_settings(endpoint, tmp_path, link_seconds=30 * 86400))
    assert "X-Amz-Expires=604800" in long.link("results/j/a.wav", "x")


def test_result_link_is_a_trusted_input(storage: S3Storage, source: Path, tmp_path: Path,
                                        endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    storage.put_file("results/job-2/speech.wav", source, "audio/wav")
    link = storage.link("results/job-2/speech.wav", "x")

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a trusted link must not be fetched over HTTP")

    monkeypatch.setattr(fetch, "request_pinned", refuse)
    got = fetch_input(link, tmp_path / "in", "audio_url", "audio",
                      s3_settings(endpoint, tmp_path), storage)
    assert got.read_bytes() == source.read_bytes() and got.suffix == ".wav"


def test_missing_object_delete_prefix_and_purge(storage: S3Storage, source: Path,
                                                tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        storage.get_to_file("results/none/x.wav", tmp_path / "x")
    for key in ("results/job-3/a.wav", "results/job-3/b.wav", "uploads/u-3/c.wav"):
        storage.put_file(key, source, "audio/wav")
    storage.delete_prefix("results/job-3/")
    with pytest.raises(NotFound):
        storage.get_to_file("results/job-3/a.wav", tmp_path / "x")
    storage.get_to_file("uploads/u-3/c.wav", tmp_path / "c.wav")
    assert storage.purge_older_than(3600) == 0
    assert storage.purge_older_than(-60) >= 1  # everything is "older" than the future
    with pytest.raises(NotFound):
        storage.get_to_file("uploads/u-3/c.wav", tmp_path / "x")
