"""``check_endpoint``: no calls to internal addresses in hosted mode, loopback allowed locally."""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from convergio.providers import check_endpoint

ALLOWED = ("api.openai.com", "*.openai.azure.com")


def _resolver(table: Mapping[str, Sequence[str]]) -> Any:
    """A ``getaddrinfo`` stand-in answering from ``table`` (unknown names fail to resolve)."""

    def resolve(host: str, port: int, *args: object) -> list[tuple[Any, ...]]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "unknown host")
        answers: list[tuple[Any, ...]] = []
        for address in table[host]:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            answers.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return answers

    return resolve


DNS = _resolver(
    {
        "llm.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
        "intranet.example.com": ["10.1.2.3"],
        "sneaky.example.com": ["93.184.216.34", "192.168.0.10"],
        "metadata.example.com": ["169.254.169.254"],
        "v6-loop.example.com": ["::1"],
        "mapped.example.com": ["::ffff:127.0.0.1"],
        "ula.example.com": ["fd00:ec2::254"],
        "cgnat.example.com": ["100.64.0.1"],
        "dev.box": ["127.0.0.1", "::1"],
    }
)


def _hosted(url: str, allowed: Sequence[str] = ALLOWED) -> None:
    check_endpoint(url, allowed_hosts=allowed, local_mode=False, resolve=DNS)


def _local(url: str, allowed: Sequence[str] = ()) -> None:
    check_endpoint(url, allowed_hosts=allowed, local_mode=True, resolve=DNS)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1",  # allow-listed: not even resolved
        "https://school.openai.azure.com",  # wildcard
        "https://a.b.openai.azure.com:8443/",
        "https://llm.example.com/v1",  # resolves to public addresses only
    ],
)
def test_hosted_mode_accepts_public_https_endpoints(url: str) -> None:
    _hosted(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://api.openai.com/v1", "must use https"),
        ("https://10.0.0.5/v1", "private"),
        ("https://192.168.1.20", "private"),
        ("https://127.0.0.1:11434", "loopback"),
        ("https://[::1]:8000/v1", "loopback"),
        ("https://[::ffff:10.0.0.1]/", "private"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://169.254.169.254/latest/meta-data", "cloud metadata"),
        ("https://[fe80::1%25eth0]/", "link-local"),
        ("https://224.0.0.1/", "multicast"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://240.0.0.1/", "reserved"),
        ("https://8.8.8.8/", "is an IP address"),
        ("https://intranet.example.com", "resolves to a private address"),
        ("https://sneaky.example.com", "resolves to a private address"),  # one bad answer is enough
        ("https://metadata.example.com", "cloud metadata"),
        ("https://v6-loop.example.com", "loopback"),
        ("https://mapped.example.com", "loopback"),
        ("https://ula.example.com", "cloud metadata"),
        ("https://cgnat.example.com", "non-public"),
        ("https://nowhere.example.com", "does not resolve"),
        ("https://openai.azure.com", "does not resolve"),  # *.suffix does not match the suffix itself
        ("https://evilopenai.azure.com.attacker.net", "does not resolve"),
        ("ftp://api.openai.com", r"http\(s\) URL"),
        ("https://user:pw@api.openai.com", "credentials"),
        ("https:///v1", "no host"),
        ("https://api.openai.com:99999", "not a valid URL"),
    ],
)
def test_hosted_mode_refuses_internal_or_unclear_endpoints(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        _hosted(url)


def test_an_allow_listed_internal_host_is_accepted_but_only_over_https() -> None:
    _hosted("https://intranet.example.com/v1", allowed=["intranet.example.com"])
    _hosted("https://10.0.0.5/v1", allowed=["10.0.0.5"])
    with pytest.raises(ValueError, match="https"):
        _hosted("http://intranet.example.com/v1", allowed=["intranet.example.com"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434/v1",
        "http://localhost:8080",
        "http://[::1]:8000/v1",
        "http://[::ffff:127.0.0.1]:8000/",
        "http://dev.box:1234",  # resolves to loopback only
        "https://llm.example.com",
        "https://10.0.0.5/v1",  # https anywhere is the laptop owner's call
    ],
)
def test_local_mode_accepts_loopback_over_http_and_anything_over_https(url: str) -> None:
    _local(url)


@pytest.mark.parametrize(
    "url", ["http://llm.example.com/v1", "http://10.0.0.5:11434", "http://nowhere.example.com"]
)
def test_local_mode_refuses_plain_http_beyond_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="loopback servers only"):
        _local(url)


def test_local_mode_allows_plain_http_to_an_allow_listed_host() -> None:
    _local("http://10.0.0.5:11434", allowed=["10.0.0.5"])


@pytest.mark.parametrize("url", ["https://2130706433/", "https://0x7f.1/", "https://127.1/"])
def test_numeric_ip_spellings_are_caught_by_the_real_resolver(url: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        check_endpoint(url, allowed_hosts=(), local_mode=False)
