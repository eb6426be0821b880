"""The log-mel spectrogram plot: 80 mel bands against time in seconds."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from app.widgets import style_plot
from app.widgets.playhead import PlayheadMixin
from engine.audio.features import FRAME_SHIFT_S, N_MELS

LEVELS_DB = (-60.0, 25.0)
"""Fixed colour range in dB: the features' floor is -60 dB, loud speech peaks near +25 dB."""
MAX_COLUMNS = 12_000
"""Longer spectrograms are max-pooled in time to this many columns for display."""
F_MAX_HZ = 8000.0


def _hz_to_mel(f: float) -> float:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def mel_position(freq_hz: float, n_mels: int = N_MELS) -> float:
    """Y position (in mel bins, 0 = bottom edge) of ``freq_hz`` on the HTK mel axis 0–8 kHz."""
    step = _hz_to_mel(F_MAX_HZ) / (n_mels + 1)  # bin centres are the n_mels inner points
    return _hz_to_mel(freq_hz) / step - 1.0 + 0.5


TICKS_KHZ = (0.5, 1, 2, 4, 8)
"""Labeled frequencies of the mel axis, in kHz."""


def mel_ticks(n_mels: int = N_MELS) -> list:
    """``AxisItem.setTicks`` value labeling :data:`TICKS_KHZ` at their mel positions."""
    return [[(mel_position(k * 1000.0, n_mels), f"{k:g}") for k in TICKS_KHZ]]


class SpectrogramView(PlayheadMixin, pg.PlotWidget):
    """``(frames, 80)`` log-mel dB (10 ms per frame) as an image with fixed levels.

    Column ``i`` spans ``[i·0.01, (i+1)·0.01)`` seconds; the y axis is
    labeled in kHz at the mel bands' centre frequencies.
    """

    PLAYHEAD_COLOR = (255, 255, 255)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        style_plot(self, "kHz", x_label=None)
        self.image = pg.ImageItem(axisOrder="col-major")  # image[x=frame, y=mel]
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.image.setLevels(LEVELS_DB)
        self.addItem(self.image)
        self.setYRange(0, N_MELS, padding=0.0)
        self.getAxis("left").setTicks(mel_ticks())
        self.features: np.ndarray | None = None

    @property
    def duration(self) -> float:
        """Seconds covered by the image."""
        return 0.0 if self.features is None else len(self.features) * FRAME_SHIFT_S

    def clear_features(self) -> None:
        self.features = None
        self.image.clear()

    def set_features(self, features_db: np.ndarray) -> None:
        """Show ``(frames, 80)`` float32 dB, one frame per 10 ms."""
        self.features = np.asarray(features_db, dtype=np.float32)
        shown = self.features
        if len(shown) > MAX_COLUMNS:
            k = int(np.ceil(len(shown) / MAX_COLUMNS))
            pad = (-len(shown)) % k
            shown = np.pad(shown, ((0, pad), (0, 0)), constant_values=LEVELS_DB[0])
            shown = shown.reshape(-1, k, shown.shape[1]).max(axis=1)
        self.image.setImage(shown, levels=LEVELS_DB, autoLevels=False)
        self.image.setRect(QRectF(0.0, 0.0, self.duration, float(self.features.shape[1])))
