"""Fixtures for driving the emulator with FalconPy, unchanged.

The Rust test `emulator/tests/falconpy.rs` starts the emulator and passes its base
URL and API client credentials in the environment. Every socket is confined to
loopback: if the SDK ever tried to reach a real CrowdStrike cloud (for example
through region autodiscovery), the test fails instead of sending traffic.
"""

import ipaddress
import os
import socket

import pytest
from falconpy import OAuth2

_connect = socket.socket.connect


def _loopback_only(sock, address):
    host = address[0] if isinstance(address, tuple) else address
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise AssertionError(f"connection to non-loopback address {host} refused")
    return _connect(sock, address)


socket.socket.connect = _loopback_only


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the suite through `cargo test -p falcon-emulator`")
    return value


@pytest.fixture(scope="session")
def base_url():
    return _env("FALCON_BASE_URL")


@pytest.fixture(scope="session")
def auth(base_url):
    """One authenticated OAuth2 object shared by every service class."""
    oauth = OAuth2(
        client_id=_env("FALCON_CLIENT_ID"),
        client_secret=_env("FALCON_CLIENT_SECRET"),
        base_url=base_url,
    )
    token = oauth.token()
    assert token["status_code"] == 201, token
    assert oauth.base_url == base_url, "FalconPy left the emulator after the token call"
    return oauth


@pytest.fixture(scope="session")
def read_only(base_url):
    return OAuth2(
        client_id=_env("FALCON_READONLY_CLIENT_ID"),
        client_secret=_env("FALCON_READONLY_CLIENT_SECRET"),
        base_url=base_url,
    )


def ok(response, status=200):
    """Checks the status and Falcon's envelope, and returns the body."""
    assert response["status_code"] == status, response
    body = response["body"]
    meta = body["meta"]
    assert isinstance(meta["query_time"], float)
    assert len(meta["trace_id"]) == 36
    assert "powered_by" in meta
    return body


def paging(body):
    """`meta.pagination` of a query response."""
    return body["meta"]["pagination"]
