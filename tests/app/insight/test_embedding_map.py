"""The embedding map widget on a real PCA map: hover shows the transcript, click and double-click pick a point."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from app.insight.embedding_map import EmbeddingMap
from engine.insight.projection import pca_2d
from tests.engine.insight.embedding_support import real_embeddings


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    project, items, emb = real_embeddings(tmp_path_factory.mktemp("proj"))
    project.close()
    xy = pca_2d(np.concatenate([emb.audio, emb.text]))
    return items, emb, xy[: len(items)], xy[len(items):]


@pytest.fixture
def view(qtbot, data):
    items, emb, axy, txy = data
    m = EmbeddingMap()
    qtbot.addWidget(m)
    m.resize(700, 500)
    m.show()
    qtbot.waitExposed(m)
    m.set_points(axy, txy, emb.text_index, emb.texts, lambda i: f"{items[i].transcript} #{i}")
    m.set_colours(emb.text_index, emb.texts, np.arange(len(emb.texts)))
    qtbot.wait(50)
    return m


def pixel(m: EmbeddingMap, i: int) -> QPoint:
    scene = m.getPlotItem().vb.mapViewToScene(QPointF(*map(float, m.audio_xy[i])))
    return m.mapFromScene(scene)


def isolated_point(m: EmbeddingMap) -> int:
    """A point with no other point within 10 px, so the mouse picks exactly it."""
    px = np.array([[pixel(m, i).x(), pixel(m, i).y()] for i in range(len(m.audio_xy))], float)
    d = np.linalg.norm(px[:, None] - px[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    return int(np.argmax(d.min(axis=1)))


def test_every_point_is_drawn_with_its_words_colour_and_labelled_stars(view, data):
    items, emb, _, _ = data
    assert len(view.scatter.data) == len(items)
    assert len(view.text_scatter.data) == len(emb.texts)
    assert [label.toPlainText() for label in view._labels] == emb.texts
    names = [label.text for _, label in view.legend.items]
    assert names == emb.texts


def test_hover_shows_the_transcript_and_click_picks_the_point(qtbot, view, data):
    items, _, _, _ = data
    i = isolated_point(view)
    with qtbot.waitSignal(view.hovered) as hovered:
        qtbot.mouseMove(view.viewport(), pixel(view, i))
    assert hovered.args == [i]
    assert view.tip.isVisible() and view.tip.textItem.toPlainText() == f"{items[i].transcript} #{i}"
    with qtbot.waitSignal(view.clicked) as clicked:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pixel(view, i))
    assert clicked.args == [i] and view.selected == i
    assert len(view.selected_line.xData) == 2  # the dashed line to its transcript's star
    with qtbot.waitSignal(view.activated) as activated:
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pixel(view, i))
        qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=pixel(view, i))  # as a real mouse does
    assert activated.args == [i]
    with qtbot.assertNotEmitted(view.clicked):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(2, 2))  # empty corner


def test_lines_join_each_audio_point_to_its_text_point(view, data):
    items, emb, axy, txy = data
    view.show_lines(True)
    x, y = view.lines.xData, view.lines.yData
    assert len(x) == 2 * len(items)
    k = 3
    assert (x[2 * k], y[2 * k]) == tuple(axy[k]) and (x[2 * k + 1], y[2 * k + 1]) == tuple(txy[emb.text_index[k]])
