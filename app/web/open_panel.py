"""Opening and saving: an upload (bounded in size, decoded with the command line's checks), a file
browser confined to the server's root folder, and project / reconstruction downloads or saves."""
from __future__ import annotations

import io
import tempfile
from pathlib import Path

import panel as pn

from gpstoken.errors import GPSTokenError
from gpstoken_studio.model.project import SUFFIX
from gpstoken_studio.session import Session
from gpstoken_studio.web.controls import guarded
from gpstoken_studio.web.browser_events import UploadGuard
from gpstoken_studio.web.files import IMAGE_SUFFIXES, MAX_UPLOAD_BYTES, FileRoot, decode_upload, too_large


class OpenPanel:
    """Upload, browse (when the server has a root folder), save and download for one tab."""

    def __init__(self, session: Session, root: FileRoot | None = None, max_upload: int = MAX_UPLOAD_BYTES) -> None:
        self.session, self.root, self.max_upload = session, root, max_upload
        w = pn.widgets
        self.upload = w.FileInput(accept=",".join(IMAGE_SUFFIXES + (SUFFIX,)), css_classes=["gps-upload"])
        self.upload.param.watch(lambda e: self.open_upload(self.upload.filename, e.new), "value")
        self.download = w.FileDownload(callback=self._project_bytes, filename="untitled" + SUFFIX, label="Download project",
                                       css_classes=["gps-download"])
        self.recon = w.FileDownload(callback=self._reconstruction_bytes, filename="reconstruction.png",
                                    label="Download reconstruction")
        guard = UploadGuard(self.refuse, upload=self.upload, max_bytes=max_upload)
        parts = [pn.pane.Markdown("**Open image or project**"), guard, self.download, self.recon]
        self.folder = ""
        if root is not None:
            self.files = w.Select(label=f"Files under {root.root.name}/", options=[], size=8, css_classes=["gps-files"])
            self.path = w.TextInput(label="Path (relative to the root)", css_classes=["gps-path"])
            self.files.param.watch(lambda e: setattr(self.path, "value", e.new or ""), "value")
            self.open_button = w.Button(label="Open", on_click=lambda e: self.open_relative(self.path.value),
                                        css_classes=["gps-open"])
            self.save_button = w.Button(label="Save project here", on_click=lambda e: self.save_relative(self.path.value),
                                        css_classes=["gps-save"])
            parts += [self.files, self.path, pn.Row(self.open_button, self.save_button)]
            self.browse("")
        self.layout = pn.Column(*parts, width=300)
        session.events.document.connect(self._name_downloads)

    def _name_downloads(self, doc) -> None:
        """Downloads are named after the open image."""
        stem = Path(doc.image_path).stem if doc is not None and doc.image_path else "untitled"
        self.download.filename, self.recon.filename = stem + SUFFIX, stem + "-reconstruction.png"

    # --- uploads --------------------------------------------------------------------------------

    def refuse(self, name: str, size: int) -> None:
        """A file the browser did not send: over the upload limit."""
        self.session.events.error.emit("Cannot open upload", too_large(name, size, self.max_upload))

    def open_upload(self, name: str | None, data: bytes | None) -> bool:
        """Open an uploaded image or project; refused uploads are an ``error`` event and change nothing."""
        if not data or not name:
            return False
        if Path(name).suffix.lower() == SUFFIX:
            if len(data) > self.max_upload:
                self.refuse(name, len(data))
                return False
            with tempfile.TemporaryDirectory(prefix="gpstoken-upload-") as folder:
                path = Path(folder) / Path(name).name
                path.write_bytes(data)
                return self.session.open_path(path)
        try:
            image = decode_upload(data, name, self.max_upload)
        except GPSTokenError as exc:
            self.session.events.error.emit("Cannot open upload", str(exc))
            return False
        self.session.open_array(image, Path(name).name)
        return True

    # --- the root folder ------------------------------------------------------------------------

    def browse(self, relative: str) -> None:
        """List ``relative`` (a folder under the root) in the file list."""
        entries = self.root.listing(relative)
        self.folder = relative
        options = {"..": str(Path(relative).parent) if relative else ""} if relative else {}
        options.update({(e.path + "/" if e.folder else e.path): e.path for e in entries})
        self.files.options = options

    def open_relative(self, relative: str) -> bool:
        """Open a folder (list it), image or project at ``relative`` under the root."""
        try:
            real = self.root.resolve(relative.strip())
        except GPSTokenError as exc:
            self.session.events.error.emit("Cannot open file", str(exc))
            return False
        if real.is_dir():
            guarded(self.session, "Cannot open folder", lambda: self.browse(relative.strip().strip("/")))
            return True
        return self.session.open_path(real)

    def save_relative(self, relative: str) -> bool:
        """Save the project as ``relative`` under the root (the project suffix is added when missing)."""
        name = relative.strip()
        if not name.endswith(SUFFIX):
            name += SUFFIX
        try:
            real = self.root.resolve(name)
        except GPSTokenError as exc:
            self.session.events.error.emit("Cannot save project", str(exc))
            return False
        ok = self.session.save_project(real)
        if ok:
            guarded(self.session, "Cannot list folder", lambda: self.browse(self.folder))
        return ok

    # --- downloads ------------------------------------------------------------------------------

    def _project_bytes(self) -> io.BytesIO | None:
        return self._written(lambda path: self.session.save_project(path), SUFFIX)

    def _reconstruction_bytes(self) -> io.BytesIO | None:
        return self._written(lambda path: self.session.export("reconstruction", path), ".png")

    def _written(self, write, suffix: str) -> io.BytesIO | None:
        doc = self.session.document
        if doc is None:
            return None
        with tempfile.TemporaryDirectory(prefix="gpstoken-download-") as folder:
            path = Path(folder) / ((Path(doc.image_path).stem if doc.image_path else "untitled") + suffix)
            if not write(path):
                return None
            return io.BytesIO(path.read_bytes())
