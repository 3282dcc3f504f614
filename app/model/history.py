"""Undo/redo: a list of commands and a cursor; one command is one whole edit.

``push`` runs ``cmd.do(doc)`` first (a raise leaves history untouched), ends any preview of the edit
(``Document.preview``), drops the redo tail and appends the command, dropping the oldest steps beyond
the document's ``settings.undo_depth``. Every push, undo and redo bumps the document revision.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Protocol

from psygnal import Signal

if TYPE_CHECKING:
    from .document import Document


class Command(Protocol):
    name: str

    def do(self, doc: "Document", final: bool = True) -> None: ...

    def undo(self, doc: "Document") -> None: ...


_versions = itertools.count(1)


class History:
    """The document's undo stack."""

    changed = Signal()

    def __init__(self, doc: "Document") -> None:
        self._doc = doc
        self._stack: list[tuple[Command, int]] = []  # (command, version id)
        self._cursor = 0
        self._saved_version = 0

    def push(self, cmd: Command) -> None:
        cmd.do(self._doc)
        self._doc.end_preview()
        del self._stack[self._cursor:]
        self._stack.append((cmd, next(_versions)))
        del self._stack[:max(0, len(self._stack) - self._doc.settings.undo_depth)]
        self._cursor = len(self._stack)
        self._doc.bump_revision()
        self.changed.emit()

    def undo(self) -> bool:
        if not self.can_undo:
            return False
        self._stack[self._cursor - 1][0].undo(self._doc)
        self._cursor -= 1
        self._doc.bump_revision()
        self.changed.emit()
        return True

    def redo(self) -> bool:
        if not self.can_redo:
            return False
        self._stack[self._cursor][0].do(self._doc)
        self._cursor += 1
        self._doc.bump_revision()
        self.changed.emit()
        return True

    def clear(self) -> None:
        self._stack.clear()
        self._cursor = 0
        self._saved_version = 0
        self.changed.emit()

    def mark_unsaved(self) -> None:
        """The document holds work that no file has (a recovered document): dirty until it is saved."""
        self._saved_version = -1
        self.changed.emit()

    def mark_saved(self) -> None:
        self._saved_version = self._version()
        self.changed.emit()

    @property
    def dirty(self) -> bool:
        return self._version() != self._saved_version

    @property
    def can_undo(self) -> bool:
        return self._cursor > 0

    @property
    def can_redo(self) -> bool:
        return self._cursor < len(self._stack)

    @property
    def undo_name(self) -> str:
        return self._stack[self._cursor - 1][0].name if self.can_undo else ""

    @property
    def redo_name(self) -> str:
        return self._stack[self._cursor][0].name if self.can_redo else ""

    def __len__(self) -> int:
        return len(self._stack)

    def _version(self) -> int:
        return self._stack[self._cursor - 1][1] if self._cursor else 0
