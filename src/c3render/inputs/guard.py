"""The address guard (SSRF protection) and HTTP requests pinned to checked addresses.

A URL's host is resolved once and every address it resolves to is checked: private,
loopback, link-local, multicast, reserved and cloud-metadata addresses are refused unless
``C3_FETCH_ALLOW`` (inputs) or ``C3_WEBHOOK_ALLOW`` (webhooks) opens them; an IPv6 form
that leads to an IPv4 address (mapped, 6to4, Teredo, NAT64) is judged by that address.
The connection then goes to the checked address itself — no second DNS lookup that could
answer differently — while the ``Host`` header, TLS SNI and certificate check keep the
hostname. Used for job inputs and webhook deliveries.
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


NAT64_NETWORKS = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
TRANSLATED_NETWORK = ipaddress.ip_network("::ffff:0:0:0/96")
"""SIIT's IPv4-translated form (RFC 2765), like the mapped form ::ffff:a.b.c.d."""


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries and reaches: IPv4-mapped or -translated,
    6to4 (2002::/16), Teredo (server and client), NAT64 (64:ff9b::/96, 64:ff9b:1::/48)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    if address.ipv4_mapped:
        return [address.ipv4_mapped]
    if address.sixtofour:
        return [address.sixtofour]
    if address.teredo:
        return list(address.teredo)
    if address in TRANSLATED_NETWORK or any(address in net for net in NAT64_NETWORKS):
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def _refusal(address: IPAddress) -> str | None:
    embedded = embedded_ipv4(address)
    if embedded:  # judged by the IPv4 address it leads to
        reasons = [_refusal(each) for each in embedded]
        return next((reason for reason in reasons if reason), None)
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
    exact_only = address in METADATA_ADDRESSES or any(
        each in METADATA_ADDRESSES for each in embedded_ipv4(address))
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


def resolve_checked(
    url: str, field: str, settings: Settings, allow: list[str] | None = None
) -> Target:
    """Check ``url``'s scheme and every address its host resolves to; raise InputError.

    ``allow`` opens private hosts or networks (default ``C3_FETCH_ALLOW``; webhooks pass
    ``C3_WEBHOOK_ALLOW``). A refusal names the kind of address, never the address itself:
    a client must not learn what our DNS answers for internal names.
    """
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
        opened = settings.fetch_allow if allow is None else allow
        if reason and not _allowed(host, address, opened):
            raise InputError(f"{field} points to {reason}")
    return Target(url, parts, tuple(str(a) for a in addresses))


def check_public_url(
    url: str, field: str, settings: Settings, allow: list[str] | None = None
) -> None:
    """Raise InputError unless ``url`` is http(s) and its host resolves to allowed addresses."""
    resolve_checked(url, field, settings, allow)


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


def _os_reason(exc: BaseException) -> str:
    """The operating system's words for the error under ``exc`` (never addresses or URLs)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return str(seen.strerror).lower()
        seen = seen.__cause__ or seen.__context__
    return "the connection failed"


def describe_error(exc: Exception, field: str, read_timeout: float) -> InputError:
    """A message a person understands for a urllib3 or socket error.

    It names what went wrong, not the address that was connected to or urllib3's text
    (which holds the pinned IP address).
    """
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2, so it goes first.
    # Timeouts and refused or broken connections may pass (InputUnavailable is retried);
    # a TLS failure will not.
    if isinstance(exc, ReadTimeoutError):
        return InputUnavailable(f"{field} did not answer within {read_timeout:g} s")
    if isinstance(exc, NewConnectionError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(exc).lower():
            return InputUnavailable(f"{field} could not be reached: connection refused")
        return InputUnavailable(f"{field} could not be reached: {_os_reason(exc)}")
    if isinstance(exc, ConnectTimeoutError):
        return InputUnavailable(f"{field} could not be reached: connection timed out")
    if isinstance(exc, SSLError):
        verify = "certificate" in str(exc).lower()
        detail = "the certificate could not be verified" if verify else "the handshake failed"
        return InputError(f"{field} could not be reached: TLS error ({detail})")
    if isinstance(exc, ProtocolError):
        return InputUnavailable(f"{field} could not be reached: the connection broke")
    return InputError(f"{field} could not be reached: {type(exc).__name__}")
