"""Which utterances a training run uses: the open project's splits, or NeMo manifests.

The headless half (:func:`project_utterances`, :func:`hold_out`,
:func:`project_data`, :func:`manifest_data`) turns either source into two
lists of :class:`~engine.data.utterance.Utterance` (training and validation)
or raises :class:`DataChoiceError` with a message for the user. The
:class:`DataChoice` widget lets the user pick the source.

From a project only utterances that are ``verified`` or ``draft`` and have a
transcript are used: ``split == "train"`` trains, ``split == "dev"``
validates. Without a dev split, :data:`HOLDOUT_FRACTION` of the training
utterances are held out for validation, the same ones every time (chosen by
a hash of file, offset and text, not at random).
"""
from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from engine.data.manifest import ManifestError, read_manifest
from engine.data.query import UtteranceFilter
from engine.data.splits import describe_policy
from engine.data.utterance import Utterance

__all__ = ["DataChoice", "DataChoiceError", "HOLDOUT_FRACTION", "TrainingData", "USABLE_STATUSES", "hold_out",
           "manifest_data", "project_data", "project_utterances"]

HOLDOUT_FRACTION = 0.1
"""Share of the training utterances held out for validation when there is no dev split."""
USABLE_STATUSES = ("verified", "draft")
"""Labeling statuses whose utterances (with a transcript) are used for training."""
MANIFEST_FILTER = "NeMo manifests (*.json *.jsonl);;All files (*)"


class DataChoiceError(ValueError):
    """The chosen data cannot be used; the message says why, for the user."""


@dataclass
class TrainingData:
    """Training and validation utterances, and a sentence saying where they come from."""

    train: list[Utterance]
    dev: list[Utterance]
    description: str
    held_out: bool = False
    """True when ``dev`` was held out of the training utterances (no dev split was given)."""


# --------------------------------------------------------------------------
# headless
# --------------------------------------------------------------------------
def _has_text(text: str) -> bool:
    from engine.text.normalize import normalize_text

    return bool(text.strip()) and bool(normalize_text(text))


def project_utterances(project, split: str) -> list[Utterance]:
    """The project's ``split`` utterances that are verified or draft and have a transcript.

    ``audio_path`` is the recording's absolute path; ``start`` and ``end``
    are always set (seconds). Ordered by file, then start.

    Raises:
        engine.data.errors.ProjectError: the project cannot be read.
    """
    durations = {str(r.file): r.duration for r in project.recordings()}
    out: list[Utterance] = []
    for status in USABLE_STATUSES:
        for item in project.export_items(UtteranceFilter(split=split, status=status)):
            text = item.text or ""
            if not _has_text(text):
                continue
            path = os.path.abspath(item.audio_path)
            start = 0.0 if item.start is None else float(item.start)
            if item.end is None:
                end = durations.get(str(item.audio_path))
                if end is None:
                    import soundfile as sf

                    end = sf.info(path).duration
            else:
                end = float(item.end)
            out.append(Utterance(path, text, start, max(start, end), item.speaker))
    out.sort(key=lambda u: (str(u.audio_path), u.start, u.duration))
    return out


def _holdout_key(u: Utterance) -> tuple[int, str, float]:
    offset = u.start or 0.0
    return zlib.crc32(f"{u.audio_path}\0{offset:.3f}\0{u.text}".encode()), str(u.audio_path), offset


def hold_out(utterances: list[Utterance], fraction: float = HOLDOUT_FRACTION,
             minimum: int = 1) -> tuple[list[Utterance], list[Utterance]]:
    """Split ``utterances`` into ``(train, dev)``, ``dev`` being ``fraction`` of them (at least ``minimum``).

    Deterministic: the same utterances always give the same split, and
    adding utterances moves few of the old ones. Both lists keep the input order.
    """
    n = max(minimum, int(math.ceil(len(utterances) * fraction - 1e-9)))
    chosen = {id(u) for u in sorted(utterances, key=_holdout_key)[:n]}
    return [u for u in utterances if id(u) not in chosen], [u for u in utterances if id(u) in chosen]


def _enough(data: TrainingData, min_train: int, min_dev: int, where: str) -> TrainingData:
    if len(data.train) < min_train:
        raise DataChoiceError(f"{where} has {len(data.train)} usable training utterance(s); at least {min_train} "
                              f"are needed.")
    if len(data.dev) < min_dev:
        raise DataChoiceError(f"{where} has {len(data.dev)} validation utterance(s); at least {min_dev} are needed.")
    return data


def project_data(project, min_train: int = 1, min_dev: int = 1) -> TrainingData:
    """Training and validation utterances of ``project`` (see the module doc).

    Raises:
        DataChoiceError: no project, or too few usable utterances (the message counts them).
    """
    from engine.data.errors import ProjectError

    if project is None:
        raise DataChoiceError("No project is open: open a project or choose manifest files.")
    name = Path(project.folder).name
    try:
        train = project_utterances(project, "train")
        dev = project_utterances(project, "dev")
    except (ProjectError, OSError, RuntimeError) as exc:
        raise DataChoiceError(f"Cannot read the project {name}: {exc}") from None
    where = f"The project {name}"
    if not train:
        raise DataChoiceError(f"{where} has no usable training utterances: mark verified or draft utterances "
                              f"with a transcript as split \"train\".")
    if dev:
        desc = (f"Project {name}: {len(train)} training and {len(dev)} validation utterances "
                f"(verified and draft, with transcripts).")
        return _enough(TrainingData(train, dev, desc), min_train, min_dev, where)
    if len(train) < min_train + min_dev:
        raise DataChoiceError(f"{where} has no dev split and only {len(train)} usable training utterance(s): "
                              f"too few to hold out {min_dev} for validation. Mark some utterances as split "
                              f"\"dev\" or label more.")
    rest, held = hold_out(train, minimum=min_dev)
    desc = (f"Project {name} has no dev split: {len(held)} of its {len(train)} training utterances "
            f"({HOLDOUT_FRACTION:.0%}) are held out for validation, the same ones every time; "
            f"{len(rest)} train.")
    return _enough(TrainingData(rest, held, desc, held_out=True), min_train, min_dev, where)


def _read(path: str | os.PathLike, what: str) -> list[Utterance]:
    path = Path(path)
    if not str(path).strip() or str(path) == ".":
        raise DataChoiceError(f"Choose the {what} manifest.")
    if not path.is_file():
        raise DataChoiceError(f"The {what} manifest {path} does not exist.")
    try:
        utts = read_manifest(path)
    except ManifestError as exc:
        raise DataChoiceError(f"The {what} manifest cannot be used: {exc}.") from None
    except UnicodeDecodeError:
        raise DataChoiceError(f"The {what} manifest {path.name} is not a text file (a NeMo manifest has one JSON "
                              f"object per line).") from None
    except OSError as exc:
        raise DataChoiceError(f"The {what} manifest {path.name} cannot be read: {exc.strerror or exc}.") from None
    if not utts:
        raise DataChoiceError(f"The {what} manifest {path.name} holds no utterances.")
    missing = [str(u.audio_path) for u in utts if not u.audio_path.is_file()]
    if missing:
        raise DataChoiceError(f"{len(missing)} of the {len(utts)} audio files of the {what} manifest {path.name} "
                              f"are missing, e.g. {missing[0]}.")
    empty = [str(u.audio_path) for u in utts if not _has_text(u.text)]
    if empty:
        raise DataChoiceError(f"{len(empty)} utterance(s) of the {what} manifest {path.name} have an empty "
                              f"transcript, e.g. {Path(empty[0]).name}.")
    return utts


def manifest_data(train_path: str | os.PathLike, dev_path: str | os.PathLike | None = None, min_train: int = 1,
                  min_dev: int = 1) -> TrainingData:
    """Utterances of a training manifest and a validation one (without one, a hold-out of the training one).

    Raises:
        DataChoiceError: a manifest is missing, unreadable, malformed (the
            message names the file and line), empty, refers to missing audio,
            or has too few utterances.
    """
    train = _read(train_path, "training")
    name = Path(train_path).name
    if dev_path and str(dev_path).strip():
        dev = _read(dev_path, "validation")
        desc = f"Manifests: {len(train)} training utterances ({name}), {len(dev)} validation ({Path(dev_path).name})."
        return _enough(TrainingData(train, dev, desc), min_train, min_dev, f"The manifest {name}")
    if len(train) < min_train + min_dev:
        raise DataChoiceError(f"There is no validation manifest and {name} has only {len(train)} utterance(s): too "
                              f"few to hold out {min_dev} for validation. Choose a validation manifest.")
    rest, held = hold_out(train, minimum=min_dev)
    desc = (f"No validation manifest: {len(held)} of the {len(train)} utterances of {name} "
            f"({HOLDOUT_FRACTION:.0%}) are held out for validation, the same ones every time; {len(rest)} train.")
    return _enough(TrainingData(rest, held, desc, held_out=True), min_train, min_dev, f"The manifest {name}")


# --------------------------------------------------------------------------
# widget
# --------------------------------------------------------------------------
class DataChoice(QWidget):
    """Pick the data: the open project's train/dev splits, or a training and a validation manifest.

    Signals:
        changed(): the source or a manifest path changed.
    """

    changed = Signal()

    def __init__(self, settings=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self._project = None
        self.project_radio = QRadioButton("The open project's splits (train / dev)")
        self.project_radio.setToolTip(describe_policy())
        self.manifest_radio = QRadioButton("NeMo manifest files")
        group = QButtonGroup(self)
        group.addButton(self.project_radio)
        group.addButton(self.manifest_radio)
        self.train_edit = QLineEdit()
        self.train_edit.setPlaceholderText("training manifest (.jsonl)")
        self.dev_edit = QLineEdit()
        self.dev_edit.setPlaceholderText(f"validation manifest (optional: else {HOLDOUT_FRACTION:.0%} held out)")
        self.train_browse = QPushButton("Browse…")
        self.dev_browse = QPushButton("Browse…")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("color: palette(mid)")

        files = QGridLayout()
        files.setContentsMargins(20, 0, 0, 0)
        files.addWidget(QLabel("Train"), 0, 0)
        files.addWidget(self.train_edit, 0, 1)
        files.addWidget(self.train_browse, 0, 2)
        files.addWidget(QLabel("Dev"), 1, 0)
        files.addWidget(self.dev_edit, 1, 1)
        files.addWidget(self.dev_browse, 1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.project_radio)
        layout.addWidget(self.manifest_radio)
        layout.addLayout(files)
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        layout.addLayout(row)

        self.project_radio.toggled.connect(self._on_source)
        self.train_edit.editingFinished.connect(self._on_paths)
        self.dev_edit.editingFinished.connect(self._on_paths)
        self.train_browse.clicked.connect(lambda: self._browse(self.train_edit, "Training manifest"))
        self.dev_browse.clicked.connect(lambda: self._browse(self.dev_edit, "Validation manifest"))
        self._restore()
        self.set_project(None)

    # -- state ----------------------------------------------------------------
    @property
    def source(self) -> str:
        """``"project"`` or ``"manifest"``."""
        return "project" if self.project_radio.isChecked() else "manifest"

    def set_project(self, project) -> None:
        """Use ``project``'s splits (None: only manifests can be chosen)."""
        self._project = project
        self.project_radio.setEnabled(project is not None)
        if project is not None:
            self.project_radio.setText(f"Project {Path(project.folder).name}: its train / dev splits")
            self.project_radio.setChecked(True)
        else:
            self.project_radio.setText("The open project's splits (no project is open)")
            self.manifest_radio.setChecked(True)
        self._on_source()

    def set_manifests(self, train: str | os.PathLike, dev: str | os.PathLike | None = None) -> None:
        """Choose manifest files (``dev`` None or "": hold out part of ``train``)."""
        self.train_edit.setText(str(train) if train else "")
        self.dev_edit.setText(str(dev) if dev else "")
        self.manifest_radio.setChecked(True)
        self._on_paths()

    def collect(self, min_train: int = 1, min_dev: int = 1) -> TrainingData:
        """The chosen utterances; raises :class:`DataChoiceError` with a user message if they cannot be used."""
        if self.source == "project":
            return project_data(self._project, min_train, min_dev)
        return manifest_data(self.train_edit.text().strip(), self.dev_edit.text().strip() or None, min_train, min_dev)

    def unlabeled(self) -> list[Utterance]:
        """The open project's unlabeled utterances outside dev and test, for a teacher to transcribe
        (:func:`engine.recipes.distill.project_unlabeled`).

        Raises:
            DataChoiceError: the data are manifests, or the project has none (the message says what to do).
        """
        from engine.data.errors import ProjectError
        from engine.recipes.distill import project_unlabeled

        if self.source != "project" or self._project is None:
            raise DataChoiceError("A teacher transcribes the open project's unlabeled utterances: choose the "
                                  "project's splits as the data, or no teacher.")
        name = Path(self._project.folder).name
        try:
            utterances = project_unlabeled(self._project)
        except (ProjectError, OSError) as exc:
            raise DataChoiceError(f"Cannot read the project {name}: {exc}") from None
        if not utterances:
            raise DataChoiceError(f"The project {name} has no unlabeled utterances outside dev and test for the "
                                  "teacher to transcribe: record or import some, or choose no teacher.")
        return utterances

    def refresh(self) -> None:
        """Recount the project's utterances for the summary line."""
        if self.source != "project":
            self.summary.setText("Manifest lines: audio_filepath, text, duration (and optionally offset, speaker).")
            return
        try:
            self.summary.setText(f"{project_data(self._project).description} {describe_policy()}")
        except DataChoiceError as exc:
            self.summary.setText(f"{exc} {describe_policy()}" if self._project is not None else str(exc))

    # -- internals ------------------------------------------------------------
    def _on_source(self, *_) -> None:
        manifests = self.source == "manifest"
        for w in (self.train_edit, self.dev_edit, self.train_browse, self.dev_browse):
            w.setEnabled(manifests)
        self.refresh()
        self.changed.emit()

    def _on_paths(self) -> None:
        qs = getattr(self.settings, "qsettings", None)
        if qs is not None:
            qs.setValue("training/train_manifest", self.train_edit.text().strip())
            qs.setValue("training/dev_manifest", self.dev_edit.text().strip())
        self.changed.emit()

    def _restore(self) -> None:
        qs = getattr(self.settings, "qsettings", None)
        if qs is None:
            return
        for key, edit in (("training/train_manifest", self.train_edit), ("training/dev_manifest", self.dev_edit)):
            value = qs.value(key, "")
            if isinstance(value, str):
                edit.setText(value)

    def _browse(self, edit: QLineEdit, title: str) -> None:
        start = edit.text().strip() or getattr(self.settings, "last_folder", "") or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, title, start, MANIFEST_FILTER)
        if path:
            edit.setText(path)
            if self.settings is not None and hasattr(self.settings, "last_folder"):
                self.settings.last_folder = str(Path(path).parent)
            self._on_paths()
