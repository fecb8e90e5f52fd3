"""Input download: the SSRF guard, size and time caps, and content sniffing.

Every URL a job reads goes through :func:`fetch_input`. The host is resolved once, every
address it resolves to is checked (private, loopback, link-local, multicast, reserved and
cloud-metadata addresses are refused unless ``C3_FETCH_ALLOW`` opens them), and the
connection goes to the checked address itself — no second DNS lookup that could answer
differently — while the ``Host`` header, TLS SNI and certificate check keep the hostname.
Redirects are followed by hand, each hop checked the same way. Links this service signed
itself are read straight from storage. The content is sniffed from its first bytes.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

import certifi
import urllib3
from requests.utils import requote_uri
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from c3render.errors import InputError, NotFound

if TYPE_CHECKING:
    from c3render.config import Settings
    from c3render.storage import Storage

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Kind = Literal["audio", "image", "video"]

METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
CHUNK = 64 * 1024
HEAD = 512
USER_AGENT = "c3render/0.1"

# --- content sniffing ----------------------------------------------------------------


@dataclass(frozen=True)
class Sniffed:
    """What the first bytes of a file say it is."""

    kind: Kind
    suffix: str
    media_type: str


_IMAGE_BRANDS = {b"heic": ".heic", b"heix": ".heic", b"mif1": ".heic", b"msf1": ".heic",
                 b"hevc": ".heic", b"heim": ".heic", b"avif": ".avif", b"avis": ".avif"}
_IMAGE_TYPES = {".heic": "image/heic", ".avif": "image/avif"}
_PREFIXES: list[tuple[bytes, Sniffed]] = [
    (b"\x89PNG\r\n\x1a\n", Sniffed("image", ".png", "image/png")),
    (b"\xff\xd8\xff", Sniffed("image", ".jpg", "image/jpeg")),
    (b"GIF87a", Sniffed("image", ".gif", "image/gif")),
    (b"GIF89a", Sniffed("image", ".gif", "image/gif")),
    (b"II*\x00", Sniffed("image", ".tiff", "image/tiff")),
    (b"MM\x00*", Sniffed("image", ".tiff", "image/tiff")),
    (b"ID3", Sniffed("audio", ".mp3", "audio/mpeg")),
    (b"OggS", Sniffed("audio", ".ogg", "audio/ogg")),
    (b"fLaC", Sniffed("audio", ".flac", "audio/flac")),
    (b"caff", Sniffed("audio", ".caf", "audio/x-caf")),
    (b"#!AMR", Sniffed("audio", ".amr", "audio/amr")),
    (b".snd", Sniffed("audio", ".au", "audio/basic")),
    (b"wvpk", Sniffed("audio", ".wv", "audio/x-wavpack")),
    (b"MAC ", Sniffed("audio", ".ape", "audio/x-ape")),
]


def sniff(head: bytes) -> Sniffed | None:
    """Recognise an audio, image or video file from its first bytes (512 are plenty)."""
    for prefix, found in _PREFIXES:
        if head.startswith(prefix):
            return found
    if head[:4] == b"RIFF" and len(head) >= 12:
        return _sniff_riff(head[8:12])
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return Sniffed("audio", ".aiff", "audio/aiff")
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        if b"webm" in head[:64]:
            return Sniffed("video", ".webm", "video/webm")
        return Sniffed("video", ".mkv", "video/x-matroska")
    if head[:2] == b"BM" and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00":
        return Sniffed("image", ".bmp", "image/bmp")
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return _sniff_frame_sync(head[1])
    return None


def _sniff_riff(form: bytes) -> Sniffed | None:
    return {
        b"WAVE": Sniffed("audio", ".wav", "audio/wav"),
        b"WEBP": Sniffed("image", ".webp", "image/webp"),
        b"AVI ": Sniffed("video", ".avi", "video/x-msvideo"),
    }.get(form)


def _sniff_ftyp(head: bytes) -> Sniffed:
    size = int.from_bytes(head[:4], "big")
    brands = [head[8:12]] + [head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
    for brand in brands:
        if brand in _IMAGE_BRANDS:
            suffix = _IMAGE_BRANDS[brand]
            return Sniffed("image", suffix, _IMAGE_TYPES[suffix])
    major = head[8:12]
    if major in (b"M4A ", b"M4B ", b"M4P "):
        return Sniffed("audio", ".m4a", "audio/mp4")
    if major == b"qt  ":
        return Sniffed("video", ".mov", "video/quicktime")
    return Sniffed("video", ".mp4", "video/mp4")


def _sniff_frame_sync(second: int) -> Sniffed | None:
    layer = (second >> 1) & 0b11
    version = (second >> 3) & 0b11
    if layer == 0 and second & 0xF0 == 0xF0:
        return Sniffed("audio", ".aac", "audio/aac")
    if layer != 0 and version != 0b01:
        return Sniffed("audio", ".mp3", "audio/mpeg")
    return None


def accepts(kind: str, found: Sniffed | None) -> bool:
    """Whether sniffed content can serve as input of ``kind`` (video containers carry audio)."""
    if found is None:
        return False
    if kind == "audio":
        return found.kind in ("audio", "video")
    return found.kind == kind


# --- the address guard ---------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts and the addresses it may be connected to."""

    url: str
    parts: SplitResult
    addresses: tuple[str, ...]


def _refusal(address: IPAddress) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified or address.is_reserved:
        return "a reserved address"
    if address.is_private or not address.is_global:
        return "a private address"
    return None


def _allowed(host: str, address: IPAddress, allow: list[str]) -> bool:
    exact_only = address in METADATA_ADDRESSES
    for entry in allow:
        if entry.lower() == host.lower():
            return not exact_only
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if address in network and (not exact_only or network.num_addresses == 1):
            return True
    return False


def _resolve(host: str, port: int, field: str) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise InputError(f"{field} could not be reached: host {host} not found") from None
    seen: dict[str, IPAddress] = {}
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        seen.setdefault(text, ipaddress.ip_address(text))
    return list(seen.values())


def resolve_checked(url: str, field: str, settings: Settings) -> Target:
    """Check ``url``'s scheme and every address its host resolves to; raise InputError."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InputError(f"{field} must be an http or https URL")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise InputError(f"{field} has an invalid port") from None
    host = parts.hostname
    addresses = _resolve(host, port, field)
    for address in addresses:
        reason = _refusal(address)
        if reason and not _allowed(host, address, settings.fetch_allow):
            raise InputError(f"{field} points to {reason} ({address})")
    return Target(url, parts, tuple(str(a) for a in addresses))


def check_public_url(url: str, field: str, settings: Settings) -> None:
    """Raise InputError unless ``url`` is http(s) and its host resolves to allowed addresses."""
    resolve_checked(url, field, settings)


# --- pinned HTTP ---------------------------------------------------------------------


def _pool(target: Target, address: str, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    parts = target.parts
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    if not https:
        return urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)
    return urllib3.HTTPSConnectionPool(
        address, port, timeout=timeout, retries=False, maxsize=1,
        cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
        server_hostname=parts.hostname, assert_hostname=parts.hostname,
    )


def _request_headers(parts: SplitResult, extra: dict[str, str] | None) -> dict[str, str]:
    host = parts.netloc.rsplit("@", 1)[-1]
    headers = {"Host": host, "User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers.update(urllib3.util.make_headers(basic_auth=credentials))
    headers.update(extra or {})
    return headers


def request_pinned(
    target: Target,
    method: str,
    timeout: urllib3.Timeout,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> urllib3.BaseHTTPResponse:
    """Send one request to the checked addresses of ``target`` (never re-resolving the host).

    Redirects are not followed; the response body is not preloaded. Each address is tried
    in turn until one accepts the connection; urllib3 errors propagate.
    """
    parts = target.parts
    path = requote_uri(parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    last: Exception | None = None
    for address in target.addresses:
        pool = _pool(target, address, timeout)
        try:
            return pool.urlopen(
                method, path, body=body, headers=_request_headers(parts, headers),
                redirect=False, retries=False, preload_content=False, release_conn=False,
            )
        except (NewConnectionError, ConnectTimeoutError) as exc:
            last = exc
    assert last is not None
    raise last


def describe_error(exc: Exception, field: str, read_timeout: float) -> InputError:
    """A message a person understands for a urllib3 or socket error."""
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2, so it goes first.
    if isinstance(exc, ReadTimeoutError):
        return InputError(f"{field} did not answer within {read_timeout:g} s")
    if isinstance(exc, NewConnectionError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(exc).lower():
            return InputError(f"{field} could not be reached: connection refused")
        return InputError(f"{field} could not be reached: {cause or exc}")
    if isinstance(exc, ConnectTimeoutError):
        return InputError(f"{field} could not be reached: connection timed out")
    if isinstance(exc, SSLError):
        return InputError(f"{field} could not be reached: TLS error ({exc})")
    if isinstance(exc, ProtocolError):
        return InputError(f"{field} could not be reached: the connection broke ({exc})")
    return InputError(f"{field} could not be reached: {exc}")


# --- fetching ------------------------------------------------------------------------


def human_size(size: int) -> str:
    """``209715200`` → ``"200 MB"`` (binary units, as the default cap is written)."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def _open_following(url: str, field: str, settings: Settings) -> urllib3.BaseHTTPResponse:
    timeout = urllib3.Timeout(connect=settings.fetch_connect_timeout,
                              read=settings.fetch_read_timeout)
    for _hop in range(settings.fetch_max_redirects + 1):
        target = resolve_checked(url, field, settings)
        try:
            response = request_pinned(target, "GET", timeout)
        except HTTPError as exc:
            raise describe_error(exc, field, settings.fetch_read_timeout) from None
        location = response.headers.get("Location")
        if response.status in (301, 302, 303, 307, 308) and location:
            response.close()
            url = urljoin(url, location)
            continue
        if not 200 <= response.status < 300:
            response.close()
            raise InputError(f"{field} answered {response.status}")
        return response
    raise InputError(f"{field}: too many redirects (more than {settings.fetch_max_redirects})")


def _chunks(response: urllib3.BaseHTTPResponse, field: str, settings: Settings) -> Iterator[bytes]:
    try:
        yield from response.stream(CHUNK, decode_content=True)
    except HTTPError as exc:
        raise describe_error(exc, field, settings.fetch_read_timeout) from None


def _stream_to(response: urllib3.BaseHTTPResponse, part: Path, field: str,
               kind: str, settings: Settings) -> Sniffed:
    cap = settings.fetch_max_bytes
    too_large = InputError(f"{field} is larger than {human_size(cap)}")
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > cap:
        raise too_large
    head, found, size = bytearray(), None, 0
    with part.open("wb") as out:
        for chunk in _chunks(response, field, settings):
            size += len(chunk)
            if size > cap:
                raise too_large
            if found is None:
                head += chunk
                if len(head) < HEAD:
                    continue
                found = _require(bytes(head), field, kind)
                chunk = bytes(head)
            out.write(chunk)
        if found is None:
            found = _require(bytes(head), field, kind)
            out.write(head)
    return found


def _require(head: bytes, field: str, kind: str) -> Sniffed:
    found = sniff(head)
    if not head:
        raise InputError(f"{field} is empty")
    if not accepts(kind, found):
        article = "an" if kind[0] in "aeiou" else "a"
        raise InputError(f"{field} is not {article} {kind} file")
    assert found is not None
    return found


def _from_storage(key: str, dest_dir: Path, field: str, kind: str, storage: Storage) -> Path:
    part = dest_dir / f".{field}.part"
    try:
        storage.get_to_file(key, part)
    except NotFound:
        raise InputError(f"{field} links to a file that no longer exists") from None
    with part.open("rb") as handle:
        found = _require(handle.read(HEAD), field, kind)
    final = dest_dir / f"{field}{found.suffix}"
    os.replace(part, final)
    return final


def fetch_input(url: str, dest_dir: Path, field: str, kind: Literal["audio", "image"],
                settings: Settings, storage: Storage) -> Path:
    """Download the input ``field`` into ``dest_dir``; return the file (suffix from content).

    Our own signed links are read from storage. Anything else must pass the address guard,
    answer 2xx within the timeouts, stay under ``C3_FETCH_MAX_BYTES`` and sniff as ``kind``;
    otherwise InputError says what is wrong.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    key = storage.key_for_url(url)
    if key is not None:
        return _from_storage(key, dest_dir, field, kind, storage)
    part = dest_dir / f".{field}.part"
    response = _open_following(url, field, settings)
    try:
        found = _stream_to(response, part, field, kind, settings)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        response.close()
    final = dest_dir / f"{field}{found.suffix}"
    os.replace(part, final)
    return final
