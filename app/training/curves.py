"""Live training curves: the loss (per epoch, or per step for a personalization) and validation WER/CER.

Two :class:`pyqtgraph.PlotWidget` side by side, fed from the job events
(:class:`~engine.jobs.events.Metrics` once per epoch,
:class:`~engine.jobs.events.Progress` ``loss`` per personalization step);
a point that arrives again for the same x (a resumed run repeating an epoch)
replaces the old one.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QWidget

from app.widgets import style_plot

__all__ = ["TrainingCurves"]

LOSS_PEN = pg.mkPen((120, 200, 255), width=2)
STEP_PEN = pg.mkPen((255, 200, 60), width=1)
WER_PEN = pg.mkPen((255, 120, 120), width=2)
CER_PEN = pg.mkPen((140, 230, 140), width=2)


class TrainingCurves(QWidget):
    """Loss and validation error curves of one run.

    Attributes:
        loss_plot: loss against epoch (or step).
        error_plot: validation WER and CER (percent) against epoch; the final
            evaluation is added as a larger marker.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = pg.PlotWidget(self)
        self.error_plot = pg.PlotWidget(self)
        style_plot(self.loss_plot, "loss", "epoch")
        style_plot(self.error_plot, "error (%)", "epoch")
        self.error_plot.setXLink(self.loss_plot)  # one x axis: epochs, or the steps of a personalization
        for plot in (self.loss_plot, self.error_plot):
            item = plot.getPlotItem()
            item.setMouseEnabled(x=False, y=False)
            item.showGrid(x=True, y=True, alpha=0.15)
        self.loss_plot.setTitle("Training loss")
        self.error_plot.setTitle("Validation error")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.error_plot.addLegend(offset=(-10, 10))
        self.epoch_loss = self.loss_plot.plot([], [], pen=LOSS_PEN, symbol="o", symbolSize=6, name="per epoch")
        self.step_loss = self.loss_plot.plot([], [], pen=STEP_PEN, name="per step")
        self.wer_curve = self.error_plot.plot([], [], pen=WER_PEN, symbol="o", symbolSize=6, symbolBrush=WER_PEN.color(),
                                              name="WER")
        self.cer_curve = self.error_plot.plot([], [], pen=CER_PEN, symbol="o", symbolSize=6, symbolBrush=CER_PEN.color(),
                                              name="CER")
        self.eval_marks = pg.ScatterPlotItem(size=12, symbol="star", pen=pg.mkPen("w"), brush=pg.mkBrush(255, 255, 255, 160))
        self.error_plot.addItem(self.eval_marks)
        self._epochs: dict[int, tuple[float, float, float]] = {}
        self._steps: dict[int, float] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.error_plot)

    # -- data -----------------------------------------------------------------
    def clear(self, per_step: bool = False) -> None:
        """Forget all points; ``per_step``: the next run reports its loss per step (x axis "step")."""
        self._epochs.clear()
        self._steps.clear()
        self.eval_marks.setData([])
        for plot in (self.loss_plot, self.error_plot):
            plot.getPlotItem().getAxis("bottom").setLabel("step" if per_step else "epoch")
        self._redraw()

    def clear_steps(self) -> None:
        """Forget the per-step loss (a personalization that starts over)."""
        self._steps.clear()
        self._redraw()

    def add_step(self, step: int, loss: float | None) -> None:
        """The loss after optimizer step ``step`` (non-finite values are skipped)."""
        if loss is None or not math.isfinite(loss):
            return
        self._steps[int(step)] = float(loss)
        self._redraw()

    def add_epoch(self, epoch: int, loss: float, wer: float, cer: float) -> None:
        """A finished epoch: mean training loss and validation WER/CER (fractions)."""
        self._epochs[int(epoch)] = (float(loss), float(wer), float(cer))
        self._redraw()

    def add_evaluation(self, x: float, wer: float, cer: float) -> None:
        """The final evaluation's WER and CER (fractions), drawn as stars at ``x``."""
        points = [{"pos": (x, 100 * v)} for v in (wer, cer) if math.isfinite(v)]
        self.eval_marks.setData(points)

    # -- read back ------------------------------------------------------------
    def loss_points(self) -> list[tuple[float, float]]:
        """``(x, loss)`` points shown: per epoch, or per step when there are no epochs."""
        return [(e, v[0]) for e, v in sorted(self._epochs.items())] or sorted(self._steps.items())

    def step_points(self) -> list[tuple[int, float]]:
        return sorted(self._steps.items())

    def epoch_points(self) -> list[tuple[int, float, float, float]]:
        """``(epoch, loss, wer, cer)`` per finished epoch."""
        return [(e, *v) for e, v in sorted(self._epochs.items())]

    # -- internals ------------------------------------------------------------
    def _redraw(self) -> None:
        epochs = sorted(self._epochs)
        finite = [e for e in epochs if math.isfinite(self._epochs[e][0])]
        self.epoch_loss.setData(finite, [self._epochs[e][0] for e in finite])
        steps = sorted(self._steps)
        self.step_loss.setData(steps, [self._steps[s] for s in steps])
        scored = [e for e in epochs if math.isfinite(self._epochs[e][1])]
        self.wer_curve.setData(scored, [100 * self._epochs[e][1] for e in scored])
        self.cer_curve.setData(scored, [100 * self._epochs[e][2] for e in scored])
        # errors are percentages from 0: one point is not centred in a ±0.4 band around itself
        errors = [100 * v for e in scored for v in self._epochs[e][1:] if math.isfinite(v)]
        self.error_plot.setYRange(0, max(10.0, 1.1 * max(errors, default=0.0)), padding=0.0)
        xs = epochs or steps
        if len(xs) <= 1:  # one point (or none): show it from 0, not alone in the middle of nothing
            self.loss_plot.setXRange(0, max(xs, default=1) + 1, padding=0.0)
