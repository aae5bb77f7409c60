"""Fetch a URL a user gave us (a calendar's secret address) without letting it reach our own network.

The server fetches whatever address a tutor pastes, so: http(s) only; the host is resolved and EVERY address it
resolves to must be public (no private, loopback, link-local, multicast or reserved ranges) unless a network is
allowed by configuration (dev and tests serve feeds on 127.0.0.1); the connection then goes to the address that
was checked (no second lookup a rebinding DNS server could answer differently), with TLS still verified against
the host name; redirects are followed by hand, each target checked the same way; the body is capped in size and
the whole fetch in time."""
from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3

MAX_REDIRECTS = 3


class FetchRefused(ValueError):
    """An address we will not fetch (scheme, host or network); the message says why, in words."""


class FetchFailed(RuntimeError):
    """The fetch was allowed but did not work (timeout, refused, HTTP error, too large); the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked address: where to connect (the checked IP) and what to ask for."""

    scheme: str
    host: str
    ip: str
    port: int
    path: str


def parse_networks(text: str | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Networks allowed although not public, from a comma-separated list such as '127.0.0.0/8,::1/128'."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in (text or "").split(",") if part.strip())


def check_url(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of an http(s) URL, or FetchRefused (nothing is resolved here)."""
    if not isinstance(url, str) or not url.strip():
        raise FetchRefused("Paste the calendar's address: it starts with https://")
    if len(url) > 2000:
        raise FetchRefused("That address is too long (up to 2,000 characters).")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise FetchRefused("That is not a web address we can read.") from None
    scheme = parts.scheme.lower()
    if scheme == "webcal":
        raise FetchRefused("Use the address with https:// instead of webcal:// (it is the same address).")
    if scheme not in ("http", "https"):
        raise FetchRefused("The address must start with https:// (or http://).")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise FetchRefused("That address has no host name.")
    if parts.username or parts.password:
        raise FetchRefused("Addresses with a user name or password in them are not accepted.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def address_allowed(ip: str, allowed_networks=()) -> bool:
    """Whether we may connect to `ip`: a public address, or one inside a network allowed by configuration."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(address in network for network in allowed_networks):
        return True
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def resolve(url: str, allowed_networks=()) -> Target:
    """Check the URL and every address its host resolves to; the Target connects to the first of them."""
    scheme, host, port, path = check_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchRefused(f"The host {host} was not found.") from None
    ips = list(dict.fromkeys(info[4][0] for info in infos))
    if not ips:
        raise FetchRefused(f"The host {host} was not found.")
    refused = [ip for ip in ips if not address_allowed(ip, allowed_networks)]
    if refused:
        raise FetchRefused(f"The host {host} is on a private or local network ({refused[0]}); "
                           "give a calendar address on the internet.")
    return Target(scheme, host, ips[0], port, path)


def fetch(url: str, *, max_bytes: int, timeout: float, allowed_networks=(), user_agent: str = "Lessonbook") -> bytes:
    """The body of `url` (status 200), following up to MAX_REDIRECTS checked redirects, at most `max_bytes` long,
    all within `timeout` seconds; FetchRefused or FetchFailed otherwise."""
    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        target = resolve(url, allowed_networks)  # at fetch time too: DNS may answer differently than when it was added
        response = _request(target, deadline, user_agent)
        try:
            if response.status in (301, 302, 303, 307, 308):
                location = response.headers.get("Location")
                if not location:
                    raise FetchFailed(f"The calendar server answered {response.status} without saying where to go.")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise FetchFailed(f"The calendar server answered HTTP {response.status}"
                                  + (" (the address may have been reset or removed)." if response.status in (401, 403, 404, 410) else "."))
            return _read_capped(response, max_bytes, deadline)
        finally:
            response.release_conn()
    raise FetchFailed(f"The calendar address redirected more than {MAX_REDIRECTS} times.")


def _request(target: Target, deadline: float, user_agent: str):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchFailed("The calendar server took too long to answer.")
    timeout = urllib3.Timeout(connect=min(remaining, 10), read=remaining)
    headers = {"Host": target.host if target.port in (80, 443) else f"{target.host}:{target.port}",
               "User-Agent": user_agent, "Accept": "text/calendar, */*;q=0.5"}
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(target.ip, target.port, timeout=timeout, retries=False, maxsize=1,
                                           server_hostname=target.host, assert_hostname=target.host,
                                           cert_reqs="CERT_REQUIRED")
    else:
        pool = urllib3.HTTPConnectionPool(target.ip, target.port, timeout=timeout, retries=False, maxsize=1)
    try:
        return pool.urlopen("GET", target.path, headers=headers, redirect=False, preload_content=False,
                            assert_same_host=False)
    except urllib3.exceptions.NewConnectionError:  # (a subclass of the timeout errors in urllib3 2)
        raise FetchFailed(f"Could not connect to {target.host}: nothing answered there.") from None
    except urllib3.exceptions.TimeoutError:
        raise FetchFailed("The calendar server took too long to answer.") from None
    except urllib3.exceptions.SSLError:
        raise FetchFailed(f"The secure connection to {target.host} failed (its certificate was not accepted).") from None
    except urllib3.exceptions.HTTPError as exc:
        raise FetchFailed(f"Could not reach {target.host}: {type(exc).__name__}.") from None


def _read_capped(response, max_bytes: int, deadline: float) -> bytes:
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise FetchFailed(f"The calendar is larger than {max_bytes // (1024 * 1024) or 1} MB; we read calendars up to that size.")
    chunks, size = [], 0
    try:
        for chunk in response.stream(64 * 1024, decode_content=True):
            size += len(chunk)
            if size > max_bytes:
                raise FetchFailed(f"The calendar is larger than {max_bytes // (1024 * 1024) or 1} MB; we read "
                                  "calendars up to that size.")
            if time.monotonic() > deadline:
                raise FetchFailed("The calendar server took too long to send the calendar.")
            chunks.append(chunk)
    except urllib3.exceptions.TimeoutError:
        raise FetchFailed("The calendar server took too long to send the calendar.") from None
    except urllib3.exceptions.HTTPError as exc:
        raise FetchFailed(f"The calendar download broke off: {type(exc).__name__}.") from None
    return b"".join(chunks)
