"""The Test tab's edit history: every mask edit is a QUndoCommand holding the mask set before and after
(MaskSet copies share unchanged layers, so a step costs only the layers it changed)."""
from __future__ import annotations

from PyQt5.QtWidgets import QUndoCommand


class MaskEdit(QUndoCommand):
    """One edit of one generator's masks; pushed after the edit was applied."""

    def __init__(self, restore, which: str, before, after, text: str):
        super().__init__(text)
        self._restore, self.which, self.before, self.after = restore, which, before, after
        self._pushed = True

    def redo(self) -> None:
        if self._pushed:  # QUndoStack.push calls redo(); the edit is already in place
            self._pushed = False
            return
        self._restore(self.which, self.after)

    def undo(self) -> None:
        self._restore(self.which, self.before)
