"""The Panel server of ``gpstoken-studio --web``: one StudioPage (and Session) per browser tab,
loopback by default, an access token whenever it listens beyond loopback."""
from __future__ import annotations

import traceback
from typing import Callable

import panel as pn
from bokeh.server.auth_provider import AuthProvider
from tornado.web import HTTPError, RequestHandler

from gpstoken_studio.web.access import COOKIE, is_loopback, new_token, page_url, token_matches
from gpstoken_studio.web.files import MAX_UPLOAD_BYTES, FileRoot
from gpstoken_studio.web.page import StudioPage

DEFAULT_PORT = 8765
REFUSED = "gpstoken-studio: this server needs its access token: open the URL it printed (with ?token=...)"


class Refused(RequestHandler):
    """Where tornado sends requests without the token: a plain 403."""

    def get(self) -> None:
        raise HTTPError(403, reason="access token required")


class TokenAuth(AuthProvider):
    """Accepts a request with ``?token=`` or the cookie it set; refuses every other with 403."""

    def __init__(self, token: str) -> None:
        self.token = token
        super().__init__()

    @property
    def get_user(self):
        def user(handler: RequestHandler):
            offered = handler.get_argument("token", None)
            if token_matches(self.token, offered):
                handler.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
                return "studio"
            if token_matches(self.token, handler.get_cookie(COOKIE)):
                return "studio"
            raise HTTPError(403, reason="access token required")
        return user

    @property
    def login_url(self) -> str:
        return "/refused"

    @property
    def login_handler(self):
        return Refused


def websocket_limit(max_upload: int) -> int:
    """The largest websocket message the server takes: an upload's base64 fits; a bigger message closes the
    tab's connection (the page stops larger files before sending them)."""
    return max(2 * max_upload, 20 * 2**20)


def page_factory(image, *, settings=None, model=None, config=None, root: FileRoot | None = None,
                 max_upload: int = MAX_UPLOAD_BYTES, on_page: Callable[[StudioPage], None] | None = None):
    """A new tab's page; a failure building it shows in that tab only."""
    try:
        page = StudioPage(image, settings=settings, model=model, config=config, root=root, max_upload=max_upload)
        if on_page is not None:
            on_page(page)
        return page.layout
    except Exception as exc:  # one tab's failure must not take the server down
        traceback.print_exc()
        return pn.pane.Alert(f"The editor could not start: {type(exc).__name__}: {exc}", alert_type="danger")


def make_server(image=None, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, root: str | None = None,
                settings=None, model=None, config=None, max_upload: int = MAX_UPLOAD_BYTES,
                token: str | None = None, start: bool = True, on_page: Callable[[StudioPage], None] | None = None):
    """A started (not yet looping) Bokeh server and its URL; a token is made when ``host`` is not loopback.
    ``on_page`` sees each tab's page as it is made (tests and benchmarks read its session)."""
    if token is None and not is_loopback(host):
        token = new_token()
    file_root = FileRoot(root) if root else None

    def factory():  # Panel calls a plain function once per tab (a functools.partial it would show as an object)
        return page_factory(image, settings=settings, model=model, config=config, root=file_root, max_upload=max_upload,
                            on_page=on_page)

    opts = {"websocket_max_message_size": websocket_limit(max_upload)}
    if token:
        opts["auth_provider"] = TokenAuth(token)
        origin = ["*"]  # reached by any host name; the same-site token cookie keeps other sites out
    else:
        origin = [f"localhost:{port}", f"127.0.0.1:{port}"]
    server = pn.serve({"/": factory}, port=port, address=host, websocket_origin=origin, show=False, start=False,
                      title="GPSToken Studio", verbose=False, **opts)
    if start:
        server.start()
    return server, page_url(host, server.port, token)
