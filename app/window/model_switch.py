"""Following and switching the studio's model.

Everything that follows the active model listens to the one
:attr:`app.active_model.ActiveModel.model_changed` signal, connected here:
the project's pre-labeling, the Insight tab, the training panel's base model
and the window's own model label and recognizer signals. A model a training
job finished is registered (:class:`engine.registry.index.ModelRegistry`) and
offered for transcription; the Models window (use, compare, export, remove)
opens from here.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.active_model import model_problem
from engine.whisper.folder import WHISPER_FAMILY

if TYPE_CHECKING:
    from app.main_window import MainWindow
    from app.models_window.dialog import ModelsDialog


class ModelSwitching:
    """The active model of ``window``: its label, switching to another, registering new ones.

    Attributes:
        models_dialog: the open Models window, or None.
    """

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.models_dialog: ModelsDialog | None = None

    def connect(self) -> None:
        """Make everything that follows the active model listen to its ``model_changed``."""
        w = self.window
        model = w.active_model
        model.model_changed.connect(self._on_model_changed)
        model.model_changed.connect(lambda _entry: w.projects.set_recognizer(model.recognizer))
        model.model_changed.connect(lambda _entry: w.insight.set_recognizer(model.recognizer, model.family))
        model.model_changed.connect(lambda _entry: w.attention.set_model_has_maps(model.family != WHISPER_FAMILY))
        # the Train tab personalizes the model in use, of either family
        model.model_changed.connect(lambda _entry: w.training.set_base_model(model.path))
        w.training.model_ready.connect(self._on_model_ready)

    def show_model(self) -> None:
        """The status bar's model label (and, without a model, why transcription is off)."""
        w = self.window
        if w.model_error:
            w.model_label.setText("Model: none")
            w.model_label.setStyleSheet("color: #b00020")
            w.model_label.setToolTip(w.model_error)
            w.panel.set_idle_message(f"Transcription is off. {w.model_error}\n\n"
                                     "Recording, opening and viewing audio still work.")
            w.statusBar().showMessage(w.model_error)
        else:
            model = w.active_model
            entry = model.entry
            w.model_label.setText(f"Model: {entry.name}")
            w.model_label.setToolTip("\n".join(x for x in (f"{entry.name} ({entry.id})", model.lineage, entry.notes,
                                                            str(w.model_path)) if x))
            w.model_label.setStyleSheet("")

    def _on_model_changed(self, _entry) -> None:
        """The window's own part of a model change: the new recognizer's signals, the model label, the actions."""
        w = self.window
        w.connect_recognizer()
        self.show_model()
        w.commands.update()
        w.statusBar().showMessage(f"Transcribing with {w.model_path}", 8000)

    def use_registered(self, model_id: str) -> bool:
        """Transcribe with the registry's model ``model_id`` from now on, and remember the choice
        (an offline package's model is assembled first: a fraction of a second)."""
        from engine.registry.index import ModelRegistry, RegistryError

        w = self.window
        try:
            entry = ModelRegistry().set_active(model_id)
        except RegistryError as exc:
            w.statusBar().showMessage(str(exc), 10000)
            return False
        if not self.switch_model(entry.path):
            return False
        w.panel.set_model_hint()
        w.statusBar().showMessage(f"Transcribing with {entry.name} from now on (Models… to change it).", 8000)
        return True

    def _on_model_ready(self, path: str) -> None:
        """A training job finished: register the model and offer it for transcription."""
        from engine.registry.index import ModelRegistry, RegistryError

        w = self.window
        try:
            # written atomically by the job just now; loading it here would stall the GUI (~0.3-0.7 s), and
            # the worker that loads it next (evaluation, transcription) reports any problem
            registry = ModelRegistry()
            # a Whisper personalization job registers its model itself, with its lineage
            entry = next((e for e in registry.list() if Path(e.path) == Path(path)), None) or registry.register(
                path, Path(path).parent.name, parent=str(w.model_path), check=False)
        except RegistryError as exc:
            w.statusBar().showMessage(f"The new model was not registered: {exc}", 10000)
            return
        answer = QMessageBox.question(w, "New model", f"{entry.name} is trained. Use it for transcription now?")
        if answer == QMessageBox.StandardButton.Yes and self.switch_model(path):
            try:
                ModelRegistry().set_active(entry.id)  # the studio starts with it next time
            except RegistryError as exc:
                w.statusBar().showMessage(f"The new model is used now but not remembered: {exc}", 10000)

    def switch_model(self, path: str | Path) -> bool:
        """Transcribe with the checkpoint at ``path`` from now on (:meth:`ActiveModel.use`: a new worker
        process loads it, and ``model_changed`` tells everything that follows the model).

        Returns:
            False (and a warning or a status message) if ``path`` is not a model, or while transcribing.
        """
        w = self.window
        path = Path(path)
        problem = model_problem(path)
        if problem:
            QMessageBox.warning(w, "Model", problem)
            return False
        if w.active_model.busy:
            w.statusBar().showMessage("Wait for the transcription to finish before switching models.", 8000)
            return False
        return w.active_model.use(path)

    def show_models(self) -> ModelsDialog:
        """The Models window (registry: use, compare, export, remove); one at a time."""
        from app.models_window.dialog import ModelsDialog

        w = self.window
        if self.models_dialog is None:
            vocabulary = w.panel.active_vocabulary()
            self.models_dialog = ModelsDialog(w.training_queue, w.playback, w.projects.project,
                                              w.model_path, vocabulary=vocabulary.phrases if vocabulary else None,
                                              parent=w)
            self.models_dialog.use_model.connect(self.switch_model)
            self.models_dialog.message.connect(lambda text: w.statusBar().showMessage(text, 10000))
            self.models_dialog.finished.connect(lambda *_: setattr(self, "models_dialog", None))
            self.models_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.models_dialog.show()
        self.models_dialog.raise_()
        return self.models_dialog
