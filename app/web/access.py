"""Who may reach the server: loopback-only by default; beyond loopback a random token in the URL.

The token arrives once as ``?token=...`` (the printed URL) and is kept in a same-site cookie, so the
page's later requests and its websocket carry it too, as Jupyter does. Imports neither Panel nor Bokeh.
"""
from __future__ import annotations

import hmac
import ipaddress
import secrets

COOKIE = "gpstoken_studio_token"
LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or "localhost") only listens on this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def new_token() -> str:
    """A fresh random access token (about 190 bits)."""
    return secrets.token_urlsafe(24)


def token_matches(expected: str, offered: str | None) -> bool:
    """Constant-time comparison of the offered token with the server's."""
    return offered is not None and hmac.compare_digest(expected.encode(), offered.encode())


def page_url(host: str, port: int, token: str | None) -> str:
    """The URL to print: the token in its query when there is one."""
    shown = "localhost" if host in ("127.0.0.1", "::1") else "0.0.0.0" if host in ("", "0.0.0.0") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
