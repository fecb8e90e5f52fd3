"""The address guard's IPv6 forms of private addresses, its messages, the webhook
allow-list, and the total download deadline (against a real local HTTP server)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c3render.errors import InputError
from c3render.inputs.fetch import fetch_input
from c3render.inputs.guard import check_public_url, resolve_checked
from c3render.settings import Settings
from c3render.storage.local import LocalStorage
from tests.support.http_peers import Peer, PeerHandler, http_peer
from tests.support.media import wav_bytes

WAV = wav_bytes()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path / "data", "fetch_allow": [],
                              "webhook_allow": []}
    values.update(overrides)
    return Settings(**values)


@pytest.mark.parametrize("address", [
    "2002:0a00:0001::1",  # 6to4 of 10.0.0.1
    "2002:7f00:0001::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b:1::c0a8:101",  # local-use NAT64 of 192.168.1.1
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:0:a00:1",  # IPv4-translated (SIIT)
    "::ffff:169.254.169.254",
])
def test_ipv6_forms_of_private_ipv4_addresses_are_refused(tmp_path: Path, address: str) -> None:
    with pytest.raises(InputError, match=r"^audio_url points to a .*address$") as refused:
        check_public_url(f"http://[{address}]/a.wav", "audio_url", make_settings(tmp_path))
    assert address not in str(refused.value)


@pytest.mark.parametrize("address", ["2002:5db8:d822::1", "64:ff9b::5db8:d822"])
def test_ipv6_forms_of_public_ipv4_addresses_pass(tmp_path: Path, address: str) -> None:
    target = resolve_checked(f"http://[{address}]/a.wav", "audio_url", make_settings(tmp_path))
    assert target.addresses == (address,)


def test_a_mapped_metadata_address_opens_only_with_an_exact_entry(tmp_path: Path) -> None:
    wide = make_settings(tmp_path, fetch_allow=["169.254.0.0/16", "::ffff:0:0/96"])
    with pytest.raises(InputError, match="cloud metadata"):
        check_public_url("http://[::ffff:169.254.169.254]/", "audio_url", wide)


def test_webhooks_have_their_own_allow_list(tmp_path: Path) -> None:
    inputs_only = make_settings(tmp_path, fetch_allow=["127.0.0.1"])
    check_public_url("http://127.0.0.1:9/a.wav", "audio_url", inputs_only)
    with pytest.raises(InputError, match="notify_url points to a loopback address$"):
        resolve_checked("http://127.0.0.1:9/hook", "notify_url", inputs_only,
                        allow=inputs_only.webhook_allow)
    hooks = make_settings(tmp_path, webhook_allow=["127.0.0.1"])
    resolve_checked("http://127.0.0.1:9/hook", "notify_url", hooks, allow=hooks.webhook_allow)
    with pytest.raises(InputError):
        check_public_url("http://127.0.0.1:9/a.wav", "audio_url", hooks)


def drip(handler: PeerHandler) -> None:
    """A valid WAV header, then one byte every 50 ms: every read answers in time."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(WAV) + 10_000_000))
    handler.end_headers()
    handler.wfile.write(WAV)
    try:
        for _ in range(2000):
            handler.wfile.write(b"\0")
            handler.wfile.flush()
            time.sleep(0.05)
    except OSError:
        pass
    handler.close_connection = True


@pytest.fixture
def peer() -> Iterator[Peer]:
    with http_peer() as server:
        server.route("/drip.wav", drip)
        yield server


def test_a_slow_drip_is_cut_at_the_total_deadline(peer: Peer, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, fetch_allow=["127.0.0.1"], fetch_read_timeout=5,
                             fetch_total_timeout=1.5, flask_secret_key="k" * 32)
    started = time.monotonic()
    with pytest.raises(InputError, match="audio_url took longer than 1.5 s to download"):
        fetch_input(peer.url("/drip.wav"), tmp_path / "in", "audio_url", "audio", settings,
                    LocalStorage(settings))
    assert time.monotonic() - started < 5  # not one read timeout per byte
    assert list((tmp_path / "in").iterdir()) == []
