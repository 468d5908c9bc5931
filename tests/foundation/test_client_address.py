"""Which address a request comes from (hotline.web.security.client_address), without a server:
throttles and logs key on it, so a client must not be able to choose it."""

from __future__ import annotations

from unittest import mock

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from hotline.config import Settings
from hotline.web.keys import SETTINGS
from hotline.web.security import client_address


def request(peer: str | None, trusted: str = "", forwarded: list[str] | None = None) -> web.Request:
    app = web.Application()
    app[SETTINGS] = Settings(trusted_proxies=trusted)
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 51000) if name == "peername" and peer is not None else default
    )
    headers = CIMultiDict(("X-Forwarded-For", value) for value in forwarded or [])
    return make_mocked_request("GET", "/", headers=headers, app=app, transport=transport)


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address(request("198.51.100.7", forwarded=["203.0.113.1"])) == "198.51.100.7"


def test_a_peer_that_is_not_a_trusted_proxy_cannot_name_another_client() -> None:
    assert client_address(request("198.51.100.7", "10.0.0.0/8", ["203.0.113.1"])) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client() -> None:
    # The client wrote "1.2.3.4" itself; our two proxies appended the real hops.
    r = request("10.0.0.2", "10.0.0.0/8, 192.168.5.1", ["1.2.3.4, 203.0.113.9", "192.168.5.1"])
    assert client_address(r) == "203.0.113.9"


def test_forwarded_addresses_are_normalised() -> None:
    r = request("10.0.0.2", "10.0.0.0/8", ["2001:DB8:0:0::1"])
    assert client_address(r) == "2001:db8::1"


@pytest.mark.parametrize("forwarded", [[], ["", " , "], ["10.0.0.5, 10.0.0.6"]])
def test_no_hop_outside_the_proxies_leaves_the_peer(forwarded: list[str]) -> None:
    assert client_address(request("10.0.0.2", "10.0.0.0/8", forwarded)) == "10.0.0.2"


def test_garbage_in_the_header_is_not_believed() -> None:
    assert client_address(request("10.0.0.2", "10.0.0.0/8", ["not-an-ip"])) == "10.0.0.2"
    # A peer that is no IP address (a Unix socket) is never a trusted proxy.
    assert client_address(request("unix-socket", "10.0.0.0/8", ["203.0.113.9"])) == "unix-socket"


def test_an_unknown_peer_is_a_question_mark() -> None:
    assert client_address(request(None)) == "?"
