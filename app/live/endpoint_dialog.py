"""Transcribe → Live settings…: the VAD endpointing settings of live recognition."""
from __future__ import annotations

from dataclasses import fields

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
)

from engine.audio.endpoint import EndpointConfig

# field: (label, minimum, maximum, step, tooltip); seconds unless noted
FIELDS: dict[str, tuple[str, float, float, float, str]] = {
    "aggressiveness": ("VAD aggressiveness", 0, 3, 1,
                       "WebRTC VAD mode: 0 keeps the most audio as speech, 3 drops the most non-speech"),
    "end_silence_s": ("Pause that ends an utterance", 0.1, 2.0, 0.05,
                      "Silence after speech before the final transcript is made (seconds)"),
    "pad_s": ("Padding", 0.0, 1.0, 0.05, "Audio kept before and after the speech of each utterance (seconds)"),
    "min_speech_s": ("Minimum speech", 0.04, 1.0, 0.02, "Shorter bursts (clicks, coughs) are ignored (seconds)"),
    "max_utterance_s": ("Longest utterance", 2.0, 30.0, 1.0, "Speech with no pause is cut after this long (seconds)"),
}


class EndpointDialog(QDialog):
    """Edit an :class:`EndpointConfig`; :meth:`config` returns the result (validated)."""

    def __init__(self, cfg: EndpointConfig, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Live settings")
        form = QFormLayout()
        self.editors = {}
        for name, (label, lo, hi, step, tip) in FIELDS.items():
            if name == "aggressiveness":
                box = QSpinBox(self)
                box.setRange(int(lo), int(hi))
            else:
                box = QDoubleSpinBox(self)
                box.setRange(lo, hi)
                box.setSingleStep(step)
                box.setDecimals(2)
                box.setSuffix(" s")
            box.setValue(getattr(cfg, name))
            box.setToolTip(tip)
            form.addRow(label, box)
            self.editors[name] = box
        self.problem = QLabel(self)
        self.problem.setStyleSheet("color: #b00020")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.RestoreDefaults, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self.restore_defaults)
        for box in self.editors.values():
            box.valueChanged.connect(self._validate)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Live recognition splits speech into utterances at pauses.", self))
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self._base = cfg

    def values(self) -> dict:
        return {name: (int(box.value()) if isinstance(box, QSpinBox) else round(box.value(), 3))
                for name, box in self.editors.items()}

    def config(self) -> EndpointConfig:
        """The edited settings.

        Raises:
            ValueError: an inconsistent combination (e.g. padding longer than the pause).
        """
        base = {f.name: getattr(self._base, f.name) for f in fields(EndpointConfig)}
        return EndpointConfig(**{**base, **self.values()})

    def restore_defaults(self) -> None:
        default = EndpointConfig()
        for name, box in self.editors.items():
            box.setValue(getattr(default, name))

    def _validate(self) -> None:
        try:
            self.config()
            self.problem.setText("")
            ok = True
        except ValueError as exc:
            self.problem.setText(str(exc))
            ok = False
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
