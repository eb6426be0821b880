"""The cross-attention widget before any map: no numbers on its token axis (issue 15 snag 12)."""
from __future__ import annotations

from app.widgets.attention_view import PLACEHOLDER, AttentionView


def test_an_empty_attention_plot_shows_its_placeholder_and_no_token_numbers(qtbot):
    view = AttentionView()
    qtbot.addWidget(view)
    view.resize(600, 250)
    view.show()
    qtbot.waitExposed(view)
    axis = view.plot.getAxis("left")
    assert axis._tickLevels == [[]]  # failed before: pyqtgraph's default −0.4 … 0.4 labels on "token"
    assert view.placeholder.isVisible() and view.placeholder.toPlainText() == PLACEHOLDER
