"""A translucent sheet over the labeling view listing its shortcuts (toggled by its help shortcut).

:class:`HelpOverlay` covers its parent widget, follows its size, and hides on
a click or any key. Its rows come from the shortcut table with the user's
overrides (:func:`app.shortcuts.keys_for`), so it always shows the keys that
work.
"""
from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

BACKGROUND = QColor(12, 14, 18, 215)


class HelpOverlay(QWidget):
    """A sheet of ``(keys, what they do)`` rows over ``parent``."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        self.label.setStyleSheet("color: #f0f0f0; background: transparent;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 30, 40, 30)
        layout.addWidget(self.label)
        self.rows: list[tuple[str, str]] = []
        self.footer = ""
        self._return_focus: QWidget | None = None
        parent.installEventFilter(self)
        self.hide()

    def set_rows(self, title: str, rows: list[tuple[str, str]], footer: str = "") -> None:
        """Show ``rows`` of ``(keys, description)`` under ``title``."""
        self.rows, self.footer = list(rows), footer
        cells = "".join(
            f"<tr><td align='right' style='padding: 2px 14px; color: #ffd866'><b>{html.escape(k)}</b></td>"
            f"<td style='padding: 2px 6px'>{html.escape(d)}</td></tr>" for k, d in rows)
        foot = f"<p style='color: #aaaaaa'>{html.escape(footer)}</p>" if footer else ""
        self.label.setText(f"<h2>{html.escape(title)}</h2><table>{cells}</table>{foot}")

    def toggle(self) -> None:
        self.hide() if self.isVisible() else self.popup()

    def popup(self) -> None:
        focus = QApplication.focusWidget()
        self._return_focus = focus if focus is not None and focus is not self else None
        self.setGeometry(self.parentWidget().rect())
        self.show()
        self.raise_()
        self.setFocus(Qt.FocusReason.PopupFocusReason)

    def hideEvent(self, event) -> None:
        focus, self._return_focus = self._return_focus, None
        if focus is not None and self.hasFocus():
            focus.setFocus(Qt.FocusReason.PopupFocusReason)
        super().hideEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKGROUND)

    def mousePressEvent(self, event) -> None:
        self.hide()

    def keyPressEvent(self, event) -> None:
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize and self.isVisible():
            self.setGeometry(self.parentWidget().rect())
        return False
