"""The address guard (SSRF protection) and HTTP requests pinned to checked addresses.

A URL's host is resolved once and every address it resolves to is checked: private,
loopback, link-local, multicast, reserved and cloud-metadata addresses are refused unless
``C3_FETCH_ALLOW`` opens them. The connection then goes to the checked address itself — no
second DNS lookup that could answer differently — while the ``Host`` header, TLS SNI and
certificate check keep the hostname. Used for job inputs and webhook deliveries.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

import certifi
import urllib3
from requests.utils import requote_uri
from urllib3.exceptions import (
    ConnectTimeoutError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from c3render.errors import InputError, InputUnavailable
from c3render.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
USER_AGENT = "c3render/0.1"


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
    # Timeouts and refused or broken connections may pass (InputUnavailable is retried);
    # a TLS failure will not.
    if isinstance(exc, ReadTimeoutError):
        return InputUnavailable(f"{field} did not answer within {read_timeout:g} s")
    if isinstance(exc, NewConnectionError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(exc).lower():
            return InputUnavailable(f"{field} could not be reached: connection refused")
        return InputUnavailable(f"{field} could not be reached: {cause or exc}")
    if isinstance(exc, ConnectTimeoutError):
        return InputUnavailable(f"{field} could not be reached: connection timed out")
    if isinstance(exc, SSLError):
        return InputError(f"{field} could not be reached: TLS error ({exc})")
    if isinstance(exc, ProtocolError):
        return InputUnavailable(f"{field} could not be reached: the connection broke ({exc})")
    return InputError(f"{field} could not be reached: {exc}")
