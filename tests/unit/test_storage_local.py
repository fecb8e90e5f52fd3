"""Local storage: atomic writes, media types, signed links, key rules, deletion, purge."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from c3render.errors import NotFound
from c3render.settings import Settings
from c3render.storage import create_storage, safe_filename, validate_key
from c3render.storage.local import LocalStorage


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    settings = Settings(data_dir=tmp_path / "data", flask_secret_key="k", link_seconds=3600)
    made = create_storage(settings)
    assert isinstance(made, LocalStorage)
    return made


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "clip.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVE" + os.urandom(5000))
    return path


def test_put_get_round_trip_keeps_media_type(storage: LocalStorage, source: Path,
                                             tmp_path: Path) -> None:
    storage.put_file("results/j1/out.wav", source, "audio/wav")
    dest = tmp_path / "back" / "x.wav"
    storage.get_to_file("results/j1/out.wav", dest)
    assert dest.read_bytes() == source.read_bytes()
    meta = storage.metadata("results/j1/out.wav")
    assert meta["media_type"] == "audio/wav" and meta["size"] == source.stat().st_size
    assert not list(storage.path("results/j1/out.wav").parent.glob(".tmp-*"))


def test_missing_file_is_not_found(storage: LocalStorage, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        storage.get_to_file("results/none/out.wav", tmp_path / "x")
    with pytest.raises(NotFound):
        storage.get_to_file("../etc/passwd", tmp_path / "x")


def test_link_is_recognised_on_any_host(storage: LocalStorage, source: Path) -> None:
    storage.put_file("uploads/u1/clip.wav", source, "audio/wav")
    link = storage.link("uploads/u1/clip.wav", "http://localhost:5000")
    assert link.startswith("http://localhost:5000/files/uploads/u1/clip.wav?expires=")
    assert storage.key_for_url(link) == "uploads/u1/clip.wav"
    other_host = link.replace("localhost:5000", "127.0.0.1:8080")
    assert storage.key_for_url(other_host) == "uploads/u1/clip.wav"
    behind_prefix = storage.link("uploads/u1/clip.wav", "https://example.org/render/")
    assert storage.key_for_url(behind_prefix) == "uploads/u1/clip.wav"


def test_tampered_or_expired_links_are_not_ours(storage: LocalStorage) -> None:
    link = storage.link("results/j1/out.wav", "http://localhost:5000")
    assert storage.key_for_url(link.replace("j1", "j2")) is None
    assert storage.key_for_url(link[:-1] + ("0" if link[-1] != "0" else "1")) is None
    past = int(time.time()) - 10
    expired = (f"http://localhost:5000/files/results/j1/out.wav?expires={past}"
               f"&signature={storage.sign('results/j1/out.wav', past)}")
    assert storage.key_for_url(expired) is None
    assert storage.key_for_url("http://localhost:5000/files/results/j1/out.wav") is None
    assert storage.key_for_url("not a url at all") is None


def test_a_different_secret_does_not_verify(storage: LocalStorage, tmp_path: Path) -> None:
    other = LocalStorage(Settings(data_dir=tmp_path / "other", flask_secret_key="other"))
    assert other.key_for_url(storage.link("results/j1/out.wav", "http://x")) is None


@pytest.mark.parametrize("key", [
    "../secret", "/etc/passwd", "results/../../x", "results//x", "results/.hidden",
    "", "results/x y", "results\\x",
])
def test_unsafe_keys_are_refused(storage: LocalStorage, source: Path, key: str) -> None:
    with pytest.raises(ValueError):
        storage.put_file(key, source, "audio/wav")
    with pytest.raises(ValueError):
        validate_key(key)


def test_safe_filename() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\me\\My Song.mp3") == "My_Song.mp3"
    assert safe_filename(".bashrc") == "bashrc"
    assert safe_filename(None) == "file"


def test_delete_prefix(storage: LocalStorage, source: Path) -> None:
    for key in ("results/j1/a.wav", "results/j1/b.wav", "results/j2/a.wav"):
        storage.put_file(key, source, "audio/wav")
    storage.delete_prefix("results/j1/")
    assert not storage.path("results/j1/a.wav").exists()
    assert storage.path("results/j2/a.wav").exists()
    storage.delete_prefix("results/j2/a.wav")
    assert not storage.path("results/j2/a.wav").exists()
    assert not any(storage.path("results/j2/x").parent.iterdir())


def test_purge_older_than_removes_old_files_and_empty_folders(storage: LocalStorage,
                                                              source: Path) -> None:
    storage.put_file("uploads/old/a.wav", source, "audio/wav")
    storage.put_file("uploads/new/a.wav", source, "audio/wav")
    old = time.time() - 7200
    os.utime(storage.path("uploads/old/a.wav"), (old, old))
    assert storage.purge_older_than(3600) == 1
    assert not storage.path("uploads/old/a.wav").parent.exists()
    assert storage.path("uploads/new/a.wav").exists()
    assert storage.purge_older_than(3600) == 0
