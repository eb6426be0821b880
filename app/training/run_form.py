"""What run to start: preset, base model, start point, length, learning rate, name.

:class:`RunForm` is the "Model" box of the Train tab. A preset
(:data:`engine.train.presets.PRESETS`) fills in its defaults; the form builds
the run's config from what the user set (:meth:`RunForm.train_config`,
:meth:`RunForm.personalize_config`) and names the run's folder under
:attr:`RunForm.models_root` (``<timestamp>-<name>``, the name made safe for
a folder).
"""
from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from engine.checkpoint_layout import family, missing_files
from engine.data.utterance import Utterance
from engine.paths import models_dir
from engine.resources import BUNDLED_MODEL
from engine.train.presets import PRESETS, Preset, scaled_warmup
from engine.whisper.folder import WHISPER_FAMILY

if TYPE_CHECKING:
    from engine.train.personalize import PersonalizeConfig
    from engine.train.trainer import TrainConfig
    from engine.whisper.personalize_config import WhisperPersonalizeConfig

__all__ = ["RunForm", "model_problem", "safe_name"]

PRESET_KEY = "training/preset"
TEACHER_KEY = "training/teacher"
NO_TEACHER = "No teacher"
TEACHER_HELP = ("Distil from a larger model: before training, it transcribes the project's unlabeled "
                "utterances (outside dev and test) and the new model also learns from its transcripts "
                "(sequence-level knowledge distillation). Their labels in the project are not changed.")
"""The settings key of the preset chosen last."""


def safe_name(name: str) -> str:
    """A folder-name-safe version of the user's run name."""
    name = re.sub(r"[^\w.-]+", "-", name.strip(), flags=re.UNICODE).strip("-.")
    return name[:80] or "model"


def model_problem(path: Path, whisper: bool = False) -> str | None:
    """A user message when ``path`` is clearly not a checkpoint folder (a quick look at its files).

    Args:
        whisper: a CTranslate2 Whisper folder is a model too (a personalization's base).
    """
    if not str(path).strip() or not path.is_dir():
        return f"There is no model at {path}: choose the folder of a Sayso model."
    if family(path) == WHISPER_FAMILY:
        return None if whisper else (f"{path} is a Whisper model: it can be personalized (preset "
                                     f"{PRESETS[0].title!r}), not fine-tuned or trained here.")
    missing = missing_files(path)
    if missing:
        return f"{path} is not a Sayso model ({', '.join(missing)} missing)."
    return None


def _replace(cfg, overrides: Mapping[str, Any]):
    """``cfg`` with the ``overrides`` that are fields of its dataclass (the others are ignored)."""
    fields = {f.name for f in dataclasses.fields(cfg)}
    return dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if k in fields})


WHISPER_PERSONALIZE_HELP = ("Whisper: LoRA adapters on its top {layers} encoder layers learn how you sound; its "
                            "decoder stays as it is, so it keeps writing English as before. About a minute "
                            "for three takes per word; the new model is exported for fast transcription.")
"""What the Personalize preset says when the base model is a Whisper model."""


class RunForm(QGroupBox):
    """The Train tab's "Model" box: preset, base model, from base or scratch, length, learning rate, name.

    Args:
        settings: the studio's :class:`~app.settings.StudioSettings` (the preset is remembered), or None.
        parent: the parent widget.
    """

    def __init__(self, settings=None, parent: QWidget | None = None) -> None:
        super().__init__("Model", parent)
        self.settings = settings
        self._models_root: Path = models_dir()
        self._base_default = BUNDLED_MODEL
        self._project_name: str | None = None
        self._busy = False
        self._whisper_recipe = False
        """True while the steps and learning rate shown are Whisper's personalization recipe's."""

        self.preset_combo = QComboBox()
        for p in PRESETS:
            self.preset_combo.addItem(p.title, p.key)
        self.preset_help = QLabel()
        self.preset_help.setWordWrap(True)
        self.base_edit = QLineEdit()
        self.base_edit.setPlaceholderText("folder of a Sayso model")
        self.base_browse = QPushButton("Browse…")
        self.base_note = QLabel()
        self.base_note.setWordWrap(True)
        self.base_note.setStyleSheet("color: #555")
        self.base_edit.editingFinished.connect(self._name_base)  # not per keystroke: it reads the registry
        self.from_base_radio = QRadioButton("From the base model")
        self.from_scratch_radio = QRadioButton("From scratch")
        start_group = QButtonGroup(self)
        start_group.addButton(self.from_base_radio)
        start_group.addButton(self.from_scratch_radio)
        self.from_base_radio.setChecked(True)
        self.length_spin = QSpinBox()
        self.length_spin.setRange(1, 100_000)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(6)
        self.lr_spin.setRange(1e-6, 0.1)
        self.lr_spin.setSingleStep(1e-4)
        self.patience_spin = QSpinBox()
        self.patience_spin.setRange(0, 1000)
        self.patience_spin.setSpecialValueText("never")
        self.patience_spin.setToolTip("Stop after this many epochs without a better validation WER")
        self.teacher_combo = QComboBox()
        self.teacher_combo.setToolTip(TEACHER_HELP)
        self.teacher_label = QLabel("Distil from")
        self.teacher_label.setToolTip(TEACHER_HELP)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("name of the new model")
        self.folder_label = QLabel()
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        base_row = QHBoxLayout()
        base_row.addWidget(self.base_edit, 1)
        base_row.addWidget(self.base_browse)
        start_row = QHBoxLayout()
        start_row.addWidget(self.from_base_radio)
        start_row.addWidget(self.from_scratch_radio)
        start_row.addStretch(1)
        form = QFormLayout(self)
        form.addRow("Preset", self.preset_combo)
        form.addRow(self.preset_help)
        form.addRow("Base model", base_row)
        form.addRow("", self.base_note)
        form.addRow("Start", start_row)
        self.length_label = QLabel("Steps")
        form.addRow(self.length_label, self.length_spin)
        form.addRow("Learning rate", self.lr_spin)
        self.patience_label = QLabel("Early stop")
        form.addRow(self.patience_label, self.patience_spin)
        form.addRow(self.teacher_label, self.teacher_combo)
        form.addRow("Name", self.name_edit)
        form.addRow("Saved to", self.folder_label)

        self.preset_combo.currentIndexChanged.connect(self._on_preset)
        self.from_scratch_radio.toggled.connect(self._update_enabled)
        self.name_edit.textChanged.connect(self._update_folder_label)
        self.base_browse.clicked.connect(self._browse_base)
        self.refresh_teachers()
        self.teacher_combo.currentIndexChanged.connect(self._remember_teacher)
        self._restore()
        self.set_base_model(BUNDLED_MODEL)
        self._on_preset()

    def _restore(self) -> None:
        qs = getattr(self.settings, "qsettings", None)
        key = qs.value(PRESET_KEY, "") if qs is not None else ""
        index = self.preset_combo.findData(key) if isinstance(key, str) and key else -1
        if index >= 0:
            self.preset_combo.setCurrentIndex(index)

    # -- what the user chose ----------------------------------------------------
    @property
    def preset(self) -> Preset:
        return PRESETS[max(0, self.preset_combo.currentIndex())]

    def set_preset(self, key: str) -> None:
        """Choose a preset by key (``"personalize"``, ``"finetune"``, ``"train"``).

        Raises:
            KeyError: no such preset.
        """
        index = self.preset_combo.findData(key)
        if index < 0:
            raise KeyError(key)
        self.preset_combo.setCurrentIndex(index)

    @property
    def teacher(self) -> str:
        """The registry id of the model to distil from, or "" (none, or the preset personalizes)."""
        if self.preset.key == "personalize":
            return ""
        return str(self.teacher_combo.currentData() or "")

    def refresh_teachers(self) -> None:
        """List the installed Whisper models as teachers (the registry is read here: a small index file),
        keeping the choice the user made."""
        from engine.registry.index import ModelRegistry, RegistryError
        from engine.whisper.folder import WHISPER_FAMILY

        qs = getattr(self.settings, "qsettings", None)
        wanted = self.teacher_combo.currentData() if self.teacher_combo.count() else (
            qs.value(TEACHER_KEY, "") if qs is not None else "")
        try:
            entries = [e for e in ModelRegistry().list() if e.family == WHISPER_FAMILY and e.available]
        except (RegistryError, OSError):
            entries = []
        self.teacher_combo.blockSignals(True)
        self.teacher_combo.clear()
        self.teacher_combo.addItem(NO_TEACHER, "")
        for e in entries:
            self.teacher_combo.addItem(e.name, e.id)
        index = self.teacher_combo.findData(wanted) if isinstance(wanted, str) and wanted else 0
        self.teacher_combo.setCurrentIndex(max(0, index))
        self.teacher_combo.blockSignals(False)

    def set_teacher(self, model_id: str) -> None:
        """Choose the teacher by registry id ("" for none).

        Raises:
            KeyError: no such installed Whisper model.
        """
        index = self.teacher_combo.findData(model_id)
        if index < 0:
            raise KeyError(model_id)
        self.teacher_combo.setCurrentIndex(index)

    def _remember_teacher(self, *_) -> None:
        qs = getattr(self.settings, "qsettings", None)
        if qs is not None:
            qs.setValue(TEACHER_KEY, str(self.teacher_combo.currentData() or ""))

    @property
    def from_scratch(self) -> bool:
        """True when a full training starts from scratch (never for the other presets)."""
        return self.preset.key == "train" and self.from_scratch_radio.isChecked()

    @property
    def base_path(self) -> Path:
        """The base model folder as typed (not checked; see :func:`model_problem`)."""
        return Path(self.base_edit.text().strip())

    def set_base_model(self, path: str | os.PathLike) -> None:
        """The model to personalize or fine-tune (and the default of the base model field): the studio
        sets the model in use, and :attr:`base_note` says so."""
        self._base_default = Path(path)
        self.base_edit.setText(str(path))
        self._name_base()

    def _name_base(self) -> None:
        """Name the base model under its field (its registry name; whether it is the model in use)."""
        from engine.registry.index import ModelRegistry, RegistryError

        self._apply_recipe()
        text = self.base_edit.text().strip()
        if not text:
            self.base_note.setText("")
            return
        try:
            name = ModelRegistry().resolve(Path(text).expanduser()).name
        except (RegistryError, OSError):
            self.base_note.setText("not a model folder")
            return
        same = Path(text) == self._base_default
        self.base_note.setText(f"{name} — the model you transcribe with (it follows the Models window)" if same
                               else name)

    def set_project(self, project) -> None:
        """The open project (or None): the default run name starts with its folder's name."""
        self._project_name = Path(project.folder).name if project is not None else None
        if not self.name_edit.isModified():
            self._default_name()

    def set_busy(self, busy: bool) -> None:
        """Disable the form while a run of the panel is queued or runs."""
        self._busy = busy
        self._update_enabled()

    # -- the run's folder and config ---------------------------------------------
    @property
    def models_root(self) -> Path:
        """The folder new runs are written under (default :func:`engine.paths.models_dir`)."""
        return self._models_root

    @models_root.setter
    def models_root(self, path: str | os.PathLike) -> None:
        self._models_root = Path(path)
        self._update_folder_label()

    def output_folder(self, stamp: str | None = None, name: str | None = None) -> Path:
        """``models_root / "<timestamp>-<name>"`` for a run starting now (or at ``stamp``); ``name``
        (used as is) instead of the user's run name."""
        stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
        name = name or safe_name(self.name_edit.text() or self._suggested_name())
        return Path(self.models_root) / f"{stamp}-{name}"

    def personalize_config(self, overrides: Mapping[str, Any]) -> PersonalizeConfig:
        """The personalization's config: the form's steps and learning rate, then ``overrides``
        (keys :class:`~engine.train.personalize.PersonalizeConfig` lacks are ignored)."""
        from engine.train.personalize import PersonalizeConfig

        return _replace(PersonalizeConfig(steps=self.length_spin.value(), lr=self.lr_spin.value()), overrides)

    def whisper_personalize_config(self, overrides: Mapping[str, Any]) -> WhisperPersonalizeConfig:
        """A Whisper personalization's config: its own recipe with the form's steps and learning rate (which
        show the recipe's when a Whisper base is chosen), then ``overrides`` (keys
        :class:`~engine.whisper.personalize_config.WhisperPersonalizeConfig` lacks are ignored)."""
        from engine.whisper.personalize_config import WhisperPersonalizeConfig

        return _replace(WhisperPersonalizeConfig(steps=self.length_spin.value(), lr=self.lr_spin.value()), overrides)

    def train_config(self, train: Sequence[Utterance], overrides: Mapping[str, Any]) -> TrainConfig:
        """The training's config: the form's epochs, peak learning rate and patience, then ``overrides``
        (keys :class:`~engine.train.trainer.TrainConfig` lacks are ignored); the warmup scaled to the
        ``train`` utterances (:func:`~engine.train.presets.scaled_warmup`) unless ``overrides`` sets it."""
        from engine.train.trainer import TrainConfig

        cfg = _replace(TrainConfig(epochs=self.length_spin.value(), peak_lr=self.lr_spin.value(),
                                   patience=self.patience_spin.value()), overrides)
        return cfg if "warmup_steps" in overrides else scaled_warmup(cfg, train)

    # -- reactions -----------------------------------------------------------------
    def _update_enabled(self, *_) -> None:
        busy, preset = self._busy, self.preset
        for w in (self.preset_combo, self.name_edit, self.length_spin, self.lr_spin):
            w.setEnabled(not busy)
        self.from_scratch_radio.setEnabled(not busy and not preset.needs_base)
        self.from_base_radio.setEnabled(not busy)
        if preset.needs_base and self.from_scratch_radio.isChecked():
            self.from_base_radio.setChecked(True)
        scratch = self.from_scratch
        self.base_edit.setEnabled(not busy and not scratch)
        self.base_browse.setEnabled(not busy and not scratch)
        training = preset.key != "personalize"
        self.patience_spin.setEnabled(not busy and training)
        self.patience_spin.setVisible(training)
        self.patience_label.setVisible(training)
        self.teacher_combo.setEnabled(not busy and training)
        self.teacher_combo.setVisible(training)
        self.teacher_label.setVisible(training)

    def _on_preset(self, *_) -> None:
        p = self.preset
        self.preset_help.setText(p.description)
        self.length_label.setText("Steps" if p.key == "personalize" else "Epochs")
        self.length_spin.setValue(p.length)
        self.lr_spin.setValue(p.lr)
        self.patience_spin.setValue(p.patience)
        self._whisper_recipe = False
        self._apply_recipe()
        if not self.name_edit.isModified():
            self._default_name()
        qs = getattr(self.settings, "qsettings", None)
        if qs is not None:
            qs.setValue(PRESET_KEY, p.key)
        self._update_enabled()

    def _apply_recipe(self) -> None:
        """Show the steps and learning rate the job will use: the preset's, or, when Personalize has a
        Whisper base, Whisper's own recipe's (:class:`~engine.whisper.personalize_config.WhisperPersonalizeConfig`);
        the user's edits stay until the recipe changes."""
        text = self.base_edit.text().strip()
        whisper = self.preset.key == "personalize" and bool(text) and family(Path(text).expanduser()) == WHISPER_FAMILY
        if whisper == self._whisper_recipe:
            return
        self._whisper_recipe = whisper
        if whisper:
            from engine.whisper.personalize_config import WhisperPersonalizeConfig

            recipe = WhisperPersonalizeConfig()
            self.length_spin.setValue(recipe.steps)
            self.lr_spin.setValue(recipe.lr)
            self.preset_help.setText(WHISPER_PERSONALIZE_HELP.format(layers=recipe.top_encoder_layers))
        else:
            self.length_spin.setValue(self.preset.length)
            self.lr_spin.setValue(self.preset.lr)
            self.preset_help.setText(self.preset.description)

    def _suggested_name(self) -> str:
        noun = {"personalize": "personalized", "finetune": "finetuned", "train": "trained"}[self.preset.key]
        return f"{self._project_name}-{noun}" if self._project_name is not None else noun

    def _default_name(self) -> None:
        self.name_edit.setText(safe_name(self._suggested_name()))
        self.name_edit.setModified(False)
        self._update_folder_label()

    def _update_folder_label(self, *_) -> None:
        self.folder_label.setText(str(Path(self.models_root) / f"<date-time>-{safe_name(self.name_edit.text())}"))

    def _browse_base(self) -> None:
        start = self.base_edit.text().strip() or str(self._base_default)
        path = QFileDialog.getExistingDirectory(self, "Base model", start)
        if path:
            self.base_edit.setText(path)
            self._name_base()
