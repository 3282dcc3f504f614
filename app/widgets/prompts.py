"""Every message box and file dialog of the editor goes through here: one place decides whether a person
can answer.

Nobody can answer in an unattended run (``--screenshot``), nor before the window is shown when stdin is
not a terminal (a script or CI starting the editor). Then an error is one line on stderr, a question gets
``NO_ANSWER`` (each caller says what that means: keep the work, change nothing) and a file dialog gets no
path; nothing waits for a person.
"""
from __future__ import annotations

import sys

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

NO_ANSWER = QMessageBox.NoButton


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (OSError, ValueError):  # closed or replaced stdin
        return False


class Prompts:
    """The dialogs of one window (``parent``); ``unattended`` is set for runs that nobody watches."""

    def __init__(self, parent: QWidget, unattended: bool = False) -> None:
        self.parent = parent
        self.unattended = unattended
        self.errors: list[str] = []  # errors reported while nobody could answer

    def can_ask(self) -> bool:
        """Whether a person can answer a dialog now."""
        return not self.unattended and (self.parent.isVisible() or stdin_is_terminal())

    def error(self, title: str, message: str) -> None:
        """A modal error box, or one line on stderr when nobody can answer."""
        if self.can_ask():
            QMessageBox.critical(self.parent, title, message)
            return
        self.errors.append(message)
        print(f"gpstoken-studio: {message}", file=sys.stderr, flush=True)

    def ask(self, title: str, text: str, buttons=QMessageBox.Yes | QMessageBox.No):
        """The button a person chose, or ``NO_ANSWER`` when nobody can answer."""
        return QMessageBox.question(self.parent, title, text, buttons) if self.can_ask() else NO_ANSWER

    def inform(self, title: str, text: str) -> None:
        if self.can_ask():
            QMessageBox.about(self.parent, title, text)

    def open_path(self, title: str, directory: str, filter: str) -> str:
        """A file to open, or "" when cancelled or nobody can answer."""
        return QFileDialog.getOpenFileName(self.parent, title, directory, filter)[0] if self.can_ask() else ""

    def save_path(self, title: str, suggestion: str, filter: str) -> str:
        """A file to write, or "" when cancelled or nobody can answer."""
        return QFileDialog.getSaveFileName(self.parent, title, suggestion, filter)[0] if self.can_ask() else ""
