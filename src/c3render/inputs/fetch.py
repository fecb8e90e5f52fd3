"""Input download: size and time caps, redirects, content sniffing, our own links.

Every URL a job reads goes through :func:`fetch_input`. Each hop, redirects included, is
checked by the address guard and connected to the checked address (``guard``). Links this service signed
itself, and the outputs of other jobs a chained job names (``job:<id>``), are read straight
from storage (``fetch_stored``). The content is sniffed from its first bytes.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import urllib3
from urllib3.exceptions import HTTPError, ReadTimeoutError

from c3render.errors import InputError, InputUnavailable, NotFound
from c3render.inputs.guard import describe_error, request_pinned, resolve_checked
from c3render.inputs.sniff import HEAD, Sniffed, accepts, sniff
from c3render.job import InputKind
from c3render.settings import Settings
from c3render.storage import Storage

__all__ = ["fetch_input", "fetch_stored", "human_size"]

CHUNK = 64 * 1024


def human_size(size: int) -> str:
    """``209715200`` → ``"200 MB"`` (binary units, as the default cap is written)."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def _too_slow(field: str, settings: Settings) -> InputError:
    return InputError(f"{field} took longer than {settings.fetch_total_timeout:g} s to download")


def _open_following(url: str, field: str, settings: Settings,
                    deadline: float) -> urllib3.BaseHTTPResponse:
    for _hop in range(settings.fetch_max_redirects + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _too_slow(field, settings)
        timeout = urllib3.Timeout(connect=min(settings.fetch_connect_timeout, remaining),
                                  read=min(settings.fetch_read_timeout, remaining))
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
            busy = response.status >= 500 or response.status in (408, 429)
            raise (InputUnavailable if busy else InputError)(f"{field} answered {response.status}")
        return response
    raise InputError(f"{field}: too many redirects (more than {settings.fetch_max_redirects})")


def _chunks(response: urllib3.BaseHTTPResponse, field: str, settings: Settings,
            deadline: float) -> Iterator[bytes]:
    """The body in chunks as they arrive, each read bounded by what is left of the deadline
    (a slow drip cannot hold the job past ``C3_FETCH_TOTAL_TIMEOUT``)."""
    sock = getattr(getattr(response, "connection", None), "sock", None)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _too_slow(field, settings)
            if isinstance(sock, socket.socket):
                sock.settimeout(min(settings.fetch_read_timeout, remaining))
            chunk = response.read1(CHUNK)
            if not chunk:
                return
            yield chunk
    except ReadTimeoutError as exc:
        if time.monotonic() >= deadline - 0.1:
            raise _too_slow(field, settings) from None
        raise describe_error(exc, field, settings.fetch_read_timeout) from None
    except HTTPError as exc:
        raise describe_error(exc, field, settings.fetch_read_timeout) from None


def _stream_to(response: urllib3.BaseHTTPResponse, part: Path, field: str,
               kind: str, settings: Settings, deadline: float) -> Sniffed:
    cap = settings.fetch_max_bytes
    too_large = InputError(f"{field} is larger than {human_size(cap)}")
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > cap:
        raise too_large
    head, found, size = bytearray(), None, 0
    with part.open("wb") as out:
        for chunk in _chunks(response, field, settings, deadline):
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


def fetch_stored(key: str, dest_dir: Path, field: str, kind: str, storage: Storage) -> Path:
    """Copy the stored object ``key`` (our own link's, or a chained job's output) into
    ``dest_dir`` as the input ``field``, checking it sniffs as ``kind``."""
    dest_dir.mkdir(parents=True, exist_ok=True)
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


def fetch_input(url: str, dest_dir: Path, field: str, kind: InputKind,
                settings: Settings, storage: Storage) -> Path:
    """Download the input ``field`` into ``dest_dir``; return the file (suffix from content).

    Our own signed links are read from storage. Anything else must pass the address guard,
    answer 2xx within the timeouts, arrive whole within ``C3_FETCH_TOTAL_TIMEOUT``, stay
    under ``C3_FETCH_MAX_BYTES`` and sniff as ``kind``;
    otherwise InputError says what is wrong.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    key = storage.key_for_url(url)
    if key is not None:
        return fetch_stored(key, dest_dir, field, kind, storage)
    part = dest_dir / f".{field}.part"
    deadline = time.monotonic() + settings.fetch_total_timeout
    response = _open_following(url, field, settings, deadline)
    try:
        found = _stream_to(response, part, field, kind, settings, deadline)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        response.close()
    final = dest_dir / f"{field}{found.suffix}"
    os.replace(part, final)
    return final
