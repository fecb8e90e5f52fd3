"""Input fetching against a real local HTTP server: the address guard, caps, sniffing."""

from __future__ import annotations

import socket
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c3render.errors import InputError
from c3render.inputs import fetch, guard
from c3render.inputs.fetch import fetch_input
from c3render.inputs.guard import check_public_url
from c3render.inputs.sniff import sniff
from c3render.settings import Settings
from c3render.storage.local import LocalStorage
from tests.support.http_peers import Peer, endless, hang, http_peer, respond
from tests.support.media import wav_bytes
from tests.support.servers import free_port

WAV = wav_bytes()
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
       b"\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture(scope="module")
def peer() -> Iterator[Peer]:
    with http_peer() as server:
        server.route("/a.wav", lambda h: respond(h, 200, WAV, {"Content-Type": "text/plain"}))
        server.route("/p.png", lambda h: respond(h, 200, PNG))
        server.route("/page.html", lambda h: respond(h, 200, b"<html>hi</html>" * 100,
                                                     {"Content-Type": "audio/wav"}))
        server.route("/big", lambda h: respond(h, 200, WAV + bytes(300_000)))
        server.route("/endless", endless(WAV[:44]))
        server.route("/hang", hang)
        server.route("/loop", lambda h: respond(h, 302, b"", {"Location": "/loop"}))
        server.route("/to-wav", lambda h: respond(h, 301, b"", {"Location": "/a.wav"}))
        server.route("/to-private", lambda h: respond(
            h, 302, b"", {"Location": "http://10.0.0.1/secret"}))
        server.route("/to-metadata", lambda h: respond(
            h, 307, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}))
        yield server


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path / "data", "flask_secret_key": "k",
                              "fetch_allow": ["127.0.0.1"]}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def storage(settings: Settings) -> LocalStorage:
    return LocalStorage(settings)


def test_fetches_audio_and_names_it_from_content(peer: Peer, tmp_path: Path,
                                                 settings: Settings, storage: LocalStorage) -> None:
    path = fetch_input(peer.url("/a.wav"), tmp_path / "in", "audio_url", "audio", settings, storage)
    assert path.name == "audio_url.wav" and path.read_bytes() == WAV
    assert [p.name for p in (tmp_path / "in").iterdir()] == ["audio_url.wav"]


def test_follows_a_redirect_and_fetches_an_image(peer: Peer, tmp_path: Path,
                                                 settings: Settings, storage: LocalStorage) -> None:
    assert fetch_input(peer.url("/to-wav"), tmp_path, "audio_url", "audio",
                       settings, storage).read_bytes() == WAV
    assert fetch_input(peer.url("/p.png"), tmp_path, "image_url", "image",
                       settings, storage).name == "image_url.png"


@pytest.mark.parametrize(("path", "kind", "message"), [
    ("/missing", "audio", "audio_url answered 404"),
    ("/page.html", "audio", "audio_url is not an audio file"),
    ("/a.wav", "image", "audio_url is not an image file"),
    ("/loop", "audio", "too many redirects"),
    ("/to-private", "audio", "audio_url points to a private address"),
    ("/to-metadata", "audio", "audio_url points to a cloud metadata address"),
])
def test_refusals_have_readable_messages(peer: Peer, tmp_path: Path, settings: Settings,
                                         storage: LocalStorage, path: str, kind: Any,
                                         message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fetch_input(peer.url(path), tmp_path, "audio_url", kind, settings, storage)
    assert not any(tmp_path.glob("*audio_url*"))


def test_size_cap_with_content_length(peer: Peer, tmp_path: Path, storage: LocalStorage) -> None:
    settings = make_settings(tmp_path, fetch_max_bytes=100 * 1024)
    with pytest.raises(InputError, match="audio_url is larger than 100 KB"):
        fetch_input(peer.url("/big"), tmp_path / "in", "audio_url", "audio", settings, storage)


def test_endless_stream_is_cut_at_the_cap(peer: Peer, tmp_path: Path,
                                          storage: LocalStorage) -> None:
    settings = make_settings(tmp_path, fetch_max_bytes=2 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="image_url is larger than 2 MB"):
            fetch_input(peer.url("/endless"), tmp_path / "in", "image_url", "audio",
                        settings, storage)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024  # streamed in chunks, never held whole
    assert list((tmp_path / "in").iterdir()) == []  # the partial file is removed


def test_read_timeout(peer: Peer, tmp_path: Path, storage: LocalStorage) -> None:
    settings = make_settings(tmp_path, fetch_read_timeout=0.3)
    with pytest.raises(InputError, match="audio_url did not answer within 0.3 s"):
        fetch_input(peer.url("/hang"), tmp_path, "audio_url", "audio", settings, storage)


def test_connection_refused(tmp_path: Path, settings: Settings, storage: LocalStorage) -> None:
    url = f"http://127.0.0.1:{free_port()}/a.wav"
    with pytest.raises(InputError, match="audio_url could not be reached: connection refused"):
        fetch_input(url, tmp_path, "audio_url", "audio", settings, storage)


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the guard lets anything through to a connection attempt."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(fetch, "request_pinned", refuse)


@pytest.mark.parametrize(("url", "reason"), [
    ("http://127.0.0.1:9/x", "a loopback address"),
    ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
    ("http://10.0.0.1/x", "a private address"),
    ("http://[::1]:9/x", "a loopback address"),
    ("https://localhost:9/x", "a loopback address"),
    ("http://[::ffff:10.0.0.1]/x", "a private address"),
    ("http://0.0.0.0:9/x", "a reserved address"),
    ("http://224.0.0.1/x", "a multicast address"),
])
def test_guard_refuses_before_connecting(no_connections: None, tmp_path: Path,
                                         storage: LocalStorage, url: str, reason: str) -> None:
    settings = make_settings(tmp_path, fetch_allow=[])
    with pytest.raises(InputError, match=f"audio_url points to {reason}".replace("(", r"\(")
                       .replace(")", r"\)")):
        fetch_input(url, tmp_path, "audio_url", "audio", settings, storage)
    with pytest.raises(InputError):
        check_public_url(url, "notify_url", settings)


def test_allow_list_opens_hosts_and_networks(peer: Peer, tmp_path: Path,
                                             storage: LocalStorage) -> None:
    by_host = make_settings(tmp_path, fetch_allow=["localhost"])
    path = fetch_input(peer.url("/a.wav", host="localhost"), tmp_path / "a", "audio_url",
                       "audio", by_host, storage)
    assert path.read_bytes() == WAV
    by_net = make_settings(tmp_path, fetch_allow=["127.0.0.0/8", "169.254.0.0/16"])
    fetch_input(peer.url("/a.wav"), tmp_path / "b", "audio_url", "audio", by_net, storage)
    with pytest.raises(InputError, match="cloud metadata"):  # only an exact entry opens it
        check_public_url("http://169.254.169.254/", "audio_url", by_net)


def test_host_is_resolved_once_and_connection_pinned(
    peer: Peer, tmp_path: Path, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = socket.getaddrinfo
    lookups: list[str] = []

    def fake(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "media.example":
            lookups.append(host)
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    settings = make_settings(tmp_path, fetch_allow=["media.example"])
    fetch_input(peer.url("/a.wav", host="media.example"), tmp_path, "audio_url", "audio",
                settings, storage)
    assert lookups == ["media.example"]
    assert peer.requests_to("/a.wav")[-1].headers["Host"] == f"media.example:{peer.port}"


def test_every_resolved_address_is_checked(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    def fake(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(InputError, match=r"private address$") as refused:
        check_public_url("https://mixed.example/hook", "notify_url", make_settings(tmp_path))
    assert "10.1.2.3" not in str(refused.value)  # our DNS answers are not told to clients


def test_public_address_passes_and_bad_scheme_fails(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, fetch_allow=[])
    check_public_url("http://93.184.216.34/hook", "notify_url", settings)  # resolves only
    with pytest.raises(InputError, match="notify_url must be an http or https URL"):
        check_public_url("file:///etc/passwd", "notify_url", settings)


def test_own_signed_links_are_read_from_storage(tmp_path: Path, storage: LocalStorage,
                                                no_connections: None) -> None:
    settings = make_settings(tmp_path, fetch_allow=[])
    source = tmp_path / "speech.wav"
    source.write_bytes(WAV)
    storage.put_file("results/job1/speech.wav", source, "audio/wav")
    link = storage.link("results/job1/speech.wav", "http://localhost:5000")
    got = fetch_input(link, tmp_path / "in", "audio_url", "audio", settings, storage)
    assert got.read_bytes() == WAV
    with pytest.raises(InputError, match="image_url is not an image file"):
        fetch_input(link, tmp_path / "in", "image_url", "image", settings, storage)


@pytest.mark.parametrize(("head", "kind", "suffix"), [
    (b"ID3\x04\x00", "audio", ".mp3"),
    (b"\xff\xfb\x90\x64", "audio", ".mp3"),
    (b"\xff\xf1\x50\x80", "audio", ".aac"),
    (b"OggS\x00\x02", "audio", ".ogg"),
    (b"fLaC\x00\x00", "audio", ".flac"),
    (b"FORM\x00\x00\x00\x10AIFF", "audio", ".aiff"),
    (b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00isomiso2", "audio", ".m4a"),
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "video", ".mp4"),
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "image", ".avif"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image", ".heic"),
    (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\x82\x84webm", "video", ".webm"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image", ".webp"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image", ".jpg"),
    (b"GIF89a\x01\x00", "image", ".gif"),
    (b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00", "image", ".bmp"),
    (b"II*\x00\x08\x00", "image", ".tiff"),
])
def test_sniffing(head: bytes, kind: str, suffix: str) -> None:
    found = sniff(head)
    assert found is not None and (found.kind, found.suffix) == (kind, suffix)


def test_sniffing_rejects_text() -> None:
    assert sniff(b"<!doctype html>") is None
    assert sniff(b'{"error": "nope"}') is None
    assert sniff(b"") is None


def _self_signed(tmp_path: Path, hostname: str) -> tuple[Path, Path]:
    """A certificate for ``hostname`` (its own CA) and its key, as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_pins_the_address_but_verifies_the_hostname(
    peer: Peer, tmp_path: Path, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ssl
    import threading
    from http.server import ThreadingHTTPServer

    from tests.support.http_peers import PeerHandler

    cert, key = _self_signed(tmp_path, "media.example")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    handler = type("TlsHandler", (PeerHandler,), {"peer": peer})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real(
        "127.0.0.1" if host in ("media.example", "evil.example") else host, *a, **k))
    monkeypatch.setattr(guard.certifi, "where", lambda: str(cert))
    settings = make_settings(tmp_path, fetch_allow=["127.0.0.1", "media.example", "evil.example"])
    port = server.server_address[1]
    try:
        got = fetch_input(f"https://media.example:{port}/a.wav", tmp_path / "in", "audio_url",
                          "audio", settings, storage)
        assert got.read_bytes() == WAV
        with pytest.raises(InputError, match="TLS error"):  # certificate is for media.example
            fetch_input(f"https://evil.example:{port}/a.wav", tmp_path / "in", "audio_url",
                        "audio", settings, storage)
    finally:
        server.shutdown()
        server.server_close()
