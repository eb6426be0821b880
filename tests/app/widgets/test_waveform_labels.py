"""Word labels on the waveform never pile up: the ones that would overlap are hidden until zoomed in."""
from __future__ import annotations

import numpy as np

from app.widgets.waveform_view import WaveformView
from engine.decode.alignment import WordTiming


def visible_spans(view: WaveformView) -> list[tuple[float, float]]:
    vb = view.getPlotItem().vb
    spans = []
    for label in view.word_labels:
        if label.isVisible():
            x = vb.mapViewToScene(label.pos()).x()
            w = label.textItem.boundingRect().width()
            spans.append((x - w / 2, x + w / 2))
    return spans


def test_overlapping_word_labels_are_hidden_and_come_back_when_zoomed_in(qtbot):
    view = WaveformView()
    qtbot.addWidget(view)
    view.resize(500, 200)
    view.show()
    view.set_audio(np.zeros(16_000 * 10, np.float32))
    words = [WordTiming(f"word{i}", 0.1 * i, 0.1 * i + 0.08, 0.9) for i in range(40)]  # 40 words in 4 s
    view.set_words(words)
    view.zoom_to_fit()
    spans = visible_spans(view)
    assert 1 < len(spans) < 40  # some shown, the rest hidden: was all 40 on top of each other
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # none overlaps the next
    view.setXRange(0.0, 0.3, padding=0.0)  # zoomed in: every label there has room
    shown = [lab for lab in view.word_labels[:3] if lab.isVisible()]
    assert len(shown) == 3
