"""Message boxes that never block the event loop: errors from workers arrive while jobs still run."""
from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QMessageBox, QWidget


def show_message(parent: QWidget, title: str, text: str, icon=QMessageBox.Warning) -> QMessageBox:
    """Open a window-modal message box and return at once (the box deletes itself when closed)."""
    box = QMessageBox(icon, title, text, QMessageBox.Ok, parent)
    box.setObjectName("message_box")
    box.setAttribute(Qt.WA_DeleteOnClose, True)
    box.open()
    return box


def show_error(parent: QWidget, title: str, text: str) -> QMessageBox:
    return show_message(parent, title, text, QMessageBox.Critical)


def show_warning(parent: QWidget, title: str, text: str) -> QMessageBox:
    return show_message(parent, title, text, QMessageBox.Warning)


def install_excepthook(parent: QWidget) -> None:
    """Show unexpected errors in a dialog instead of letting PyQt abort the process.

    PyQt calls qFatal() (abort) on an exception escaping a slot unless sys.excepthook was replaced;
    the window stays usable and the traceback goes to the terminal.
    """
    import sys
    import traceback

    def hook(exc_type, exc, tb):
        traceback.print_exception(exc_type, exc, tb)
        if issubclass(exc_type, KeyboardInterrupt):
            return
        show_error(parent, "Unexpected error",
                   f"{exc_type.__name__}: {exc}\n\nThe window is still usable; the details were printed to the "
                   "terminal. Please report them.")

    sys.excepthook = hook
