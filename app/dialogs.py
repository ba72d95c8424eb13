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
