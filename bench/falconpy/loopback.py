"""What both FalconPy scripts share: the emulator's address and client from the
environment, and a guard that keeps every connection on loopback.

FalconPy 1.6.6 follows the region named in the token response (`X-Cs-Region`) to
the real cloud of that name. The bench emulator names a region FalconPy does not
know, and this guard turns any connection to another address into an error, so a
mistake fails the benchmark instead of sending traffic anywhere.
"""

import ipaddress
import os
import socket
import sys

_connect = socket.socket.connect


def _loopback_only(sock, address):
    host = address[0] if isinstance(address, tuple) else address
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConnectionRefusedError(f"connection to non-loopback address {host} refused")
    return _connect(sock, address)


socket.socket.connect = _loopback_only


def credentials():
    """`(base_url, client_id, client_secret)` from the environment."""
    values = []
    for name in ("FALCON_BASE_URL", "FALCON_CLIENT_ID", "FALCON_CLIENT_SECRET"):
        value = os.environ.get(name)
        if not value:
            sys.exit(f"error: {name} is not set; bench/run sets it for the bench emulator")
        values.append(value)
    base_url = values[0]
    if not base_url.startswith(("http://127.0.0.1:", "http://localhost:")):
        sys.exit(f"error: FALCON_BASE_URL must be a loopback emulator, got {base_url}")
    return tuple(values)


def authenticate():
    """An authenticated FalconPy OAuth2 object for the emulator."""
    from falconpy import OAuth2

    base_url, client_id, client_secret = credentials()
    auth = OAuth2(client_id=client_id, client_secret=client_secret, base_url=base_url)
    token = auth.token()
    if token["status_code"] != 201:
        sys.exit(f"error: the token request failed with HTTP {token['status_code']}")
    if auth.base_url != base_url:
        sys.exit("error: FalconPy left the emulator after the token call")
    return auth


def body(response, what):
    """The body of a successful response; stops the script on any other."""
    if response["status_code"] != 200:
        errors = response["body"].get("errors") if isinstance(response["body"], dict) else None
        sys.exit(f"error: {what} failed with HTTP {response['status_code']}: {errors}")
    return response["body"]
