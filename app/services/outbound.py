"""The one way Tessera fetches a URL someone else chose (a client's ``jwks_uri`` today).

Every fetch has a total deadline (DNS, connect, TLS and every read share it, so a server that
trickles one byte at a time cannot hold a worker), a size cap and no redirects. The host is
resolved once, every address is checked, and the socket connects to the checked address
(TLS still verifies the certificate against the hostname), so DNS rebinding cannot steer it
to a private, loopback, link-local, multicast or reserved address (OWASP SSRF prevention).
Loopback is reachable only when ``OUTBOUND_ALLOW_LOOPBACK`` is on (tests, development).
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

from app.settings import settings

DEFAULT_DEADLINE = 2.0  # seconds, for the whole fetch
DEFAULT_MAX_BYTES = 64 * 1024
USER_AGENT = "Tessera"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")  # RFC 4291 §2.4


class OutboundFetchError(Exception):
    """The URL was refused or could not be fetched in time; the message says why (for logs)."""


@dataclass(frozen=True)
class Fetched:
    body: bytes
    headers: Message


def loopback_allowed() -> bool:
    return bool(settings().outbound_allow_loopback)


def address_allowed(address: IPAddress, *, allow_loopback: bool) -> bool:
    """Public unicast only; loopback only when allowed. An IPv6 address carrying an IPv4 one
    (mapped, 6to4, NAT64) is judged by the IPv4 address it reaches."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_allowed(embedded, allow_loopback=allow_loopback)
        if address.is_loopback:
            return allow_loopback
        # Global unicast only: ::/96 (IPv4-compatible), SIIT, local-use NAT64 and site-local
        # all pass is_global on Python 3.11 but can reach private networks.
        return address in GLOBAL_UNICAST_V6 and address.is_global
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def fetch(
    url: str,
    *,
    allow_loopback: bool,
    max_bytes: int = DEFAULT_MAX_BYTES,
    deadline: float = DEFAULT_DEADLINE,
    accept: str = "application/json",
) -> Fetched:
    """GET ``url``: 200 only (a redirect is an error), at most ``max_bytes``, within ``deadline``
    seconds in all. Raises :class:`OutboundFetchError` for every failure."""
    ends_at = time.monotonic() + deadline
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise OutboundFetchError("not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise OutboundFetchError("only http(s) URLs are fetched")
    port = port or (443 if parts.scheme == "https" else 80)
    address = _resolve(host, port, ends_at, allow_loopback=allow_loopback)
    if parts.scheme == "http" and not address.is_loopback:
        raise OutboundFetchError("plain http is fetched from loopback only")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        tls = parts.scheme == "https"
        sock = _connect(address, port, host if tls else None, ends_at)
        connection_class = http.client.HTTPSConnection if tls else http.client.HTTPConnection
        connection = connection_class(host, port)
        connection.sock = sock  # already connected to the checked address
        try:
            return _get(connection, path, accept, max_bytes)
        finally:
            sock.shutdown()
    except OutboundFetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise OutboundFetchError(f"{exc.__class__.__name__} fetching the URL") from exc


def _remaining(ends_at: float) -> float:
    left = ends_at - time.monotonic()
    if left <= 0:
        raise OutboundFetchError("deadline exceeded")
    return left


def _resolve(host: str, port: int, ends_at: float, *, allow_loopback: bool) -> IPAddress:
    """Every address the name has must be allowed; the first one is used."""
    literal = literal_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        addresses = [ipaddress.ip_address(a) for a in _getaddrinfo(host, port, ends_at)]
    if not addresses:
        raise OutboundFetchError("the host has no address")
    for address in addresses:
        if not address_allowed(address, allow_loopback=allow_loopback):
            raise OutboundFetchError(f"address {address} is not a public address")
    return addresses[0]


def _getaddrinfo(host: str, port: int, ends_at: float) -> list[str]:
    """getaddrinfo has no timeout of its own: wait for it at most until the deadline."""
    found: list[str] = []
    failure: list[BaseException] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            found.extend(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
        except (OSError, UnicodeError) as exc:
            failure.append(exc)

    thread = threading.Thread(target=lookup, daemon=True, name="outbound-dns")
    thread.start()
    thread.join(_remaining(ends_at))
    if thread.is_alive():
        raise OutboundFetchError("deadline exceeded resolving the host")
    if failure:
        raise OutboundFetchError(f"cannot resolve the host ({failure[0].__class__.__name__})")
    return found


def _connect(address: IPAddress, port: int, tls_host: str | None, ends_at: float) -> _Deadline:
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    raw = socket.socket(family, socket.SOCK_STREAM)
    try:
        raw.settimeout(_remaining(ends_at))
        raw.connect((str(address), port))
        sock: socket.socket = raw
        if tls_host is not None:
            raw.settimeout(_remaining(ends_at))
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=tls_host)
    except BaseException:
        raw.close()
        raise
    return _Deadline(sock, ends_at)


def _get(connection: http.client.HTTPConnection, path: str, accept: str, max_bytes: int) -> Fetched:
    connection.putrequest("GET", path, skip_accept_encoding=True)
    connection.putheader("Accept", accept)
    connection.putheader("User-Agent", USER_AGENT)
    connection.putheader("Connection", "close")
    connection.endheaders()
    response = connection.getresponse()
    if response.status != 200:
        raise OutboundFetchError(f"answered {response.status}; redirects are not followed")
    length = response.getheader("Content-Length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise OutboundFetchError(f"larger than {max_bytes} bytes")
    body = response.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise OutboundFetchError(f"larger than {max_bytes} bytes")
    return Fetched(body, response.headers)


class _Deadline:
    """The socket as http.client sees it: each read waits only for what is left of the
    deadline, so the total, not each read, is bounded."""

    def __init__(self, sock: socket.socket, ends_at: float) -> None:
        self._sock = sock
        self._ends_at = ends_at

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(_remaining(self._ends_at))
        self._sock.sendall(data)

    def recv_into(self, buffer: Any) -> int:
        self._sock.settimeout(_remaining(self._ends_at))
        return self._sock.recv_into(buffer)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        """http.client closes the connection while the response still reads from it (as a
        real socket's makefile would keep it open); ``shutdown`` really closes it."""

    def shutdown(self) -> None:
        self._sock.close()


class _Reader(io.RawIOBase):
    def __init__(self, sock: _Deadline) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._sock.recv_into(buffer)
