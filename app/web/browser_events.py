"""Two small Panel extensions for what Bokeh and Panel have no event for: keys pressed on the page, and
the size of a file chosen for upload before it is sent.

Both are ``panel.custom.JSComponent`` classes with their JavaScript inline (an ES module the browser
loads as it is: no build step, no download, no import from elsewhere). The JavaScript only reports to
Python (``model.send_msg``); what a key or a refused file does is decided here.
"""
from __future__ import annotations

from typing import Callable

import param
from panel.custom import Child, JSComponent


class KeyListener(JSComponent):
    """Sends the page's key combinations in ``keys`` ("Ctrl+Shift+Z", "PgUp", "[") to ``on_key``; keys typed
    into a text field, and combinations not in ``keys``, stay the browser's. Unless ``everywhere`` (a page
    that is all editor), it takes keys only after a click inside the element of CSS class ``scope`` and
    until a click elsewhere: in a notebook, the notebook's own keys stay the notebook's."""

    keys = param.List(default=[], item_type=str, doc="the combinations to take (canonical spelling, web.keys)")
    everywhere = param.Boolean(default=False)
    scope = param.String(default="")

    _esm = """
    const NAMES = {PageUp: "PgUp", PageDown: "PgDown", BracketLeft: "[", BracketRight: "]"};
    const MODIFIER_KEYS = ["Control", "Shift", "Alt", "Meta", "AltGraph"];

    function keyName(e) {  // by the physical key for letters and digits: Alt+L and Shift+L still read L
      if (e.code.startsWith("Key")) return e.code.slice(3);
      if (e.code.startsWith("Digit")) return e.code.slice(5);
      if (e.code in NAMES) return NAMES[e.code];
      return e.key.length === 1 ? e.key.toUpperCase() : e.key;
    }

    function typing(e) {  // the real target, inside the widgets' shadow roots
      const t = e.composedPath()[0];
      return t instanceof HTMLElement && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName));
    }

    export function render({ model }) {
      let inside = false;
      const onPointer = (e) => {
        inside = e.composedPath().some((n) => n.classList && n.classList.contains(model.scope));
      };
      const onKey = (e) => {
        if (MODIFIER_KEYS.includes(e.key) || typing(e) || !(model.everywhere || inside)) return;
        const combo = (e.ctrlKey || e.metaKey ? "Ctrl+" : "") + (e.shiftKey ? "Shift+" : "") +
                      (e.altKey ? "Alt+" : "") + keyName(e);
        if (!model.keys.includes(combo)) return;
        e.preventDefault();
        e.stopPropagation();  // captured on the window: a notebook's key handlers do not see it
        model.send_msg(combo);
      };
      window.addEventListener("pointerdown", onPointer, true);
      window.addEventListener("keydown", onKey, true);
      model.on("remove", () => {
        window.removeEventListener("pointerdown", onPointer, true);
        window.removeEventListener("keydown", onKey, true);
      });
      return document.createElement("span");
    }
    """

    def __init__(self, on_key: Callable[[str], None], **params) -> None:
        super().__init__(width=0, height=0, margin=0, **params)
        self._on_key = on_key

    def _handle_msg(self, data) -> None:
        self._on_key(str(data))


class UploadGuard(JSComponent):
    """Shows ``upload`` (a FileInput) and stops a chosen file larger than ``max_bytes`` in the browser, before
    it is read and sent (a message over the websocket's limit would close the tab's connection); ``on_refused``
    gets its (name, size)."""

    upload = Child()
    max_bytes = param.Integer(default=0, bounds=(0, None))

    _esm = """
    export function render({ model }) {
      const upload = model.get_child("upload");
      const guard = (e) => {  // capture on the widget's shadow root: before the input's own listener
        const big = [...(e.target.files || [])].find((f) => f.size > model.max_bytes);
        if (!big) return;
        e.stopImmediatePropagation();
        e.target.value = "";
        model.send_msg({name: big.name, size: big.size});
      };
      const root = upload.shadowRoot || upload;
      root.addEventListener("change", guard, true);
      model.on("remove", () => root.removeEventListener("change", guard, true));
      return upload;
    }
    """

    def __init__(self, on_refused: Callable[[str, int], None], **params) -> None:
        super().__init__(**params)
        self._on_refused = on_refused

    def _handle_msg(self, data) -> None:
        self._on_refused(str(data.get("name", "")), int(data.get("size", 0)))
