"""Which calendar addresses the server may fetch: http(s) only, and only hosts whose every address is public
(unless a network is allowed by configuration, as dev and tests allow 127.0.0.0/8)."""
import pytest

from webapp.adapters.safe_fetch import FetchRefused, address_allowed, check_url, parse_networks, resolve

LOCAL = parse_networks("127.0.0.0/8,::1/128")


@pytest.mark.parametrize("url, words", [
    ("", "Paste"), ("ftp://example.com/cal.ics", "https://"), ("file:///etc/passwd", "https://"),
    ("webcal://example.com/cal.ics", "instead of webcal"), ("https://", "no host"),
    ("https://user:secret@example.com/cal.ics", "user name or password"), ("http://[::1/x", "not a web address"),
    ("https://example.com/" + "x" * 2000, "too long"),
])
def test_addresses_that_are_not_plain_http_are_refused_in_words(url, words):
    with pytest.raises(FetchRefused, match=words):
        check_url(url)


def test_a_good_address_keeps_its_path_and_query():
    assert check_url("https://calendar.google.com/calendar/ical/a%40b/private-x/basic.ics?hl=en") == (
        "https", "calendar.google.com", 443, "/calendar/ical/a%40b/private-x/basic.ics?hl=en")
    assert check_url("HTTP://Example.com:8080")[0::2] == ("http", 8080)


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.10", "169.254.169.254", "0.0.0.0",
                                "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "224.0.0.1",
                                "100.64.0.1", "240.0.0.1"])
def test_private_loopback_link_local_and_reserved_addresses_are_refused(ip):
    assert not address_allowed(ip)


@pytest.mark.parametrize("ip", ["142.250.187.206", "2a00:1450:4009:81f::200e", "8.8.8.8"])
def test_public_addresses_are_allowed(ip):
    assert address_allowed(ip)


def test_configured_networks_are_allowed_and_nothing_else():
    assert address_allowed("127.0.0.1", LOCAL) and address_allowed("::1", LOCAL)
    assert not address_allowed("10.0.0.1", LOCAL) and not address_allowed("169.254.169.254", LOCAL)


def test_a_host_name_that_resolves_to_loopback_is_refused():
    with pytest.raises(FetchRefused, match="private or local network"):
        resolve("http://localhost:8000/cal.ics")
    assert resolve("http://localhost:8000/cal.ics", LOCAL).ip in ("127.0.0.1", "::1")


def test_a_host_that_does_not_exist_is_refused_in_words():
    with pytest.raises(FetchRefused, match="not found"):
        resolve("https://no-such-host.invalid/cal.ics")


def test_every_address_a_host_resolves_to_must_be_public(monkeypatch):
    """A name with one public and one private address is refused: the connection could go to either."""
    answers = [(2, 1, 6, "", ("93.184.216.34", 443)), (2, 1, 6, "", ("10.0.0.7", 443))]
    monkeypatch.setattr("socket.getaddrinfo", lambda *args, **kwargs: answers)
    with pytest.raises(FetchRefused, match=r"10\.0\.0\.7"):
        resolve("https://calendar.example.com/cal.ics")
