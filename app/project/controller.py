"""The open project and its file-menu commands: new, open, import, export, long recordings, pre-labeling.

Dialogs and messages live here so the main window only wires actions to
these slots. Work that can take long (importing a dataset, splitting a long
recording, transcribing utterances) runs off the GUI thread
(:mod:`app.project.tasks`, :class:`app.labeling.prelabel.PrelabelRun`), with
a progress bar and a Cancel button in the status bar.

**The teacher.** Pre-labeling and long recordings use the best installed
general model (:meth:`engine.registry.index.ModelRegistry.teacher`, e.g.
``whisper-base``), whichever model the studio transcribes with; Transcribe →
"Pre-label with" offers every other model too. When the teacher is not the
active model it gets its own worker process (started on first use). A long
recording is transcribed whole by a Whisper teacher and split into its
segments (sentence ends) with their transcripts as drafts; with a Sayso
teacher it is split at pauses (VAD) and then pre-labeled.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QMessageBox, QProgressBar, QPushButton, QWidget

from app.labeling.prelabel import MislabelScan, PrelabelRun
from app.project.tasks import ImportTask, SplitTask, describe_rejects
from app.recognizer_bridge import RecognizerBridge
from app.window.audio_files import AUDIO_FILTER
from engine.data import formats
from engine.data.errors import ProjectError
from engine.data.query import UtteranceFilter
from engine.data.segmentation import add_transcribed_segments
from engine.data.splits import default_split
from engine.data.store import Project
from engine.registry.index import ModelEntry, ModelRegistry, RegistryError
from engine.whisper.folder import WHISPER_FAMILY
from engine.workers.recognition import TranscribeResult

DATASET_FILTER = ("Datasets (metadata.csv *.jsonl *.json *.tsv *.TextGrid *.txt wav.scp);;"
                  "All files (*)")
EXPORT_LABELS = {
    "nemo": "NeMo manifest (JSONL)…", "ljspeech": "LJSpeech (metadata.csv)…", "kaldi": "Kaldi data dir…",
    "commonvoice": "Common Voice (TSV)…", "textgrid": "Praat TextGrids…", "audacity": "Audacity labels…",
    "srt": "Subtitles (SRT)…", "vtt": "Subtitles (WebVTT)…", "txt": "Plain text…",
}


class TaskBar(QWidget):
    """A progress bar with a Cancel button, shown in the status bar while a task runs."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar(self)
        self.bar.setMaximumWidth(220)
        self.bar.setMaximumHeight(16)
        self.cancel_button = QPushButton("Cancel", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.hide()

    def show_progress(self, done: int, total: int, what: str) -> None:
        self.bar.setRange(0, max(total, 0))  # total 0: busy indicator
        self.bar.setValue(done)
        self.bar.setFormat(f"{what} %v/%m" if total else what)
        self.bar.setTextVisible(True)
        self.show()


class ProjectController(QObject):
    """Owns the open :class:`Project` (or none).

    Signals:
        project_changed(object): the new project, or None when closed.
        rows_changed(): utterances were added or changed by a task (refresh views).
        message(str): a status-bar message.
    """

    project_changed = Signal(object)
    rows_changed = Signal()
    message = Signal(str)
    mislabels_scored = Signal()

    def __init__(self, window: QWidget, settings, recognizer=None) -> None:
        super().__init__(window)
        self.window, self.settings, self.recognizer = window, settings, recognizer
        self.project: Project | None = None
        self.task_bar = TaskBar(window)
        self._task = None
        self._cancelling = False
        self.prelabel_run: PrelabelRun | None = None
        self.mislabel_scan: MislabelScan | None = None
        self.teacher_bridge: RecognizerBridge | None = None
        """The teacher's own worker, when the teacher is not the active model (started on first use)."""
        self._long: tuple[int, int, RecognizerBridge] | None = None  # (recording id, request id, bridge)
        self.task_bar.cancel_button.clicked.connect(self.cancel_task)
        if recognizer is not None:
            self._make_runs(recognizer)

    def set_recognizer(self, recognizer) -> None:
        """Use another recognition worker (the window switched models)."""
        self.cancel_task()
        self.recognizer = recognizer
        if self.prelabel_run is None:  # the window started without a model
            self._make_runs(recognizer)
        for run in (self.prelabel_run, self.mislabel_scan):
            run.recognizer = recognizer

    def _make_runs(self, recognizer) -> None:
        self.prelabel_run = PrelabelRun(recognizer, self.project, self)
        self.mislabel_scan = MislabelScan(recognizer, self.project, self)
        for run, what in ((self.prelabel_run, "Pre-labeling"), (self.mislabel_scan, "Checking labels")):
            run.progress.connect(lambda d, t, what=what: self.task_bar.show_progress(d, t, what))
            run.finished.connect(self._prelabel_done)

    # -- open / close ----------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._task is not None or self._long is not None or any(
            run is not None and run.running for run in (self.prelabel_run, self.mislabel_scan))

    def project_home(self) -> Path:
        """Where project dialogs start: the last project's parent folder, else :func:`engine.paths.projects_dir`
        (Documents/Sayso) — never inside Sayso's own files (the bundled samples, the checkout)."""
        from engine.paths import projects_dir
        from engine.resources import RESOURCES

        last = Path(self.settings.project_folder).parent if self.settings.project_folder else None
        if last is not None and last.is_dir() and not _inside(last, RESOURCES.parent):
            return last
        return projects_dir()

    def new_project(self) -> bool:
        """Name a new project folder (created if missing, in Documents/Sayso by default) and open it."""
        home = self.project_home()
        home.mkdir(parents=True, exist_ok=True)
        folder, _ = QFileDialog.getSaveFileName(self.window, "New project: name its folder",
                                                str(_unused(home / "My project")), "Sayso project folder (*)")
        return bool(folder) and self.open_folder(folder, create=True)

    def open_project(self) -> bool:
        home = self.project_home()
        folder = QFileDialog.getExistingDirectory(self.window, "Open project folder",
                                                  str(home if home.is_dir() else Path.home()))
        return bool(folder) and self.open_folder(folder)

    def open_folder(self, folder: str | Path, create: bool = False, quiet: bool = False) -> bool:
        """Open (or create) the project in ``folder``; a problem becomes a warning (or a message if ``quiet``)."""
        try:
            project = Project.create(folder) if create else Project.open(folder)
        except ProjectError as exc:
            if quiet:
                self.message.emit(f"Project not opened: {exc}")
            else:
                QMessageBox.warning(self.window, "Project", str(exc))
            return False
        self.close_project()
        self.project = project
        for run in (self.prelabel_run, self.mislabel_scan):
            if run is not None:
                run.project = project
        self.settings.project_folder = str(Path(folder))
        self.project_changed.emit(project)
        n = project.count()
        self.message.emit(f"Project {Path(folder).name}: {n} utterance{'' if n == 1 else 's'}")
        return True

    def open_sample_project(self) -> bool:
        """Build the sample project of the bundled clips in Documents/Sayso (once; the user's edits are
        kept afterwards) and open it (:mod:`engine.data.sample_project`); a problem becomes a warning."""
        from engine.data.sample_project import SAMPLE_PROJECT_NAME, create_sample_project
        from engine.paths import projects_dir

        try:
            folder = create_sample_project(projects_dir() / SAMPLE_PROJECT_NAME)
        except (ProjectError, OSError) as exc:
            QMessageBox.warning(self.window, "Sample project", str(exc))
            return False
        return self.open_folder(folder)

    def close_project(self) -> None:
        if self.project is None:
            return
        self.cancel_task()
        self.project.close()
        self.project = None
        self.project_changed.emit(None)

    def _need_project(self) -> bool:
        if self.project is None:
            QMessageBox.information(self.window, "Project", "Open or create a project first (File → New project…).")
            return False
        if self.busy:
            self.message.emit("Wait for the running task to finish, or cancel it.")
            return False
        return True

    # -- import / export ---------------------------------------------------------
    def import_file(self) -> None:
        if not self._need_project():
            return
        path, _ = QFileDialog.getOpenFileName(self.window, "Import a dataset file", self.settings.last_folder,
                                              DATASET_FILTER)
        if path:
            self.import_dataset(path)

    def import_folder(self) -> None:
        if not self._need_project():
            return
        path = QFileDialog.getExistingDirectory(self.window, "Import a dataset folder (Kaldi, Common Voice, LJSpeech…)",
                                                self.settings.last_folder)
        if path:
            self.import_dataset(path)

    def import_dataset(self, path: str | Path, fmt: str | None = None) -> None:
        """Import a dataset file or folder in the background (format detected when ``fmt`` is None)."""
        path = Path(path)
        if fmt is None and formats.detect(path) is None:
            QMessageBox.warning(self.window, "Import", f"{path.name}: not a dataset format Sayso reads "
                                f"({', '.join(formats.IMPORT_FORMATS)}).")
            return
        task = ImportTask(self.project.folder, path, fmt, self)
        task.progress.connect(lambda d, t: self.task_bar.show_progress(d, t, f"Importing {path.name}"))
        task.done.connect(lambda report: self._import_done(path, report))
        task.failed.connect(self._task_failed)
        self._start(task)

    def _import_done(self, path: Path, report) -> None:
        self._end_task()
        self.rows_changed.emit()
        text = f"Imported {report.added} utterances from {path.name}."
        self.message.emit(text + (f" {len(report.rejects)} rejected." if report.rejects else ""))
        if report.rejects:
            box = QMessageBox(QMessageBox.Icon.Warning, "Import",
                              f"{text}\n{len(report.rejects)} lines or files were rejected; "
                              "see the details for each reason.", QMessageBox.StandardButton.Ok, self.window)
            box.setDetailedText(describe_rejects(report.rejects))
            box.open()

    def export_dataset(self, fmt: str) -> None:
        """Export the project's utterances in ``fmt`` (see :data:`engine.data.formats.FORMATS`)."""
        if not self._need_project():
            return
        target = QFileDialog.getExistingDirectory(self.window, f"Export as {fmt}: choose a folder",
                                                  self.settings.last_folder)
        if not target:
            return
        items = self.project.export_items(UtteranceFilter())
        out = Path(target) / "manifest.jsonl" if fmt == "nemo" else Path(target)
        try:
            written = formats.write(items, out, fmt)
        except (ValueError, OSError) as exc:
            QMessageBox.warning(self.window, "Export", f"Nothing was exported: {getattr(exc, 'strerror', None) or exc}")
            return
        self.message.emit(f"Exported {len(items)} utterances as {fmt} to {target} ({len(written)} files).")

    # -- long recordings and pre-labeling -----------------------------------------
    def add_long_recording(self) -> None:
        if not self._need_project():
            return
        path, _ = QFileDialog.getOpenFileName(self.window, "Add a long recording", self.settings.last_folder,
                                              AUDIO_FILTER)
        if path:
            self.split_recording(path)

    def split_recording(self, path: str | Path, speaker: str | None = None) -> None:
        """Copy a recording into the project and split it, in the background: into the segments the
        teacher transcribes when it is a Whisper model, else at its pauses (see the module docstring)."""
        teacher = self.teacher()
        whole = teacher is not None and teacher.family == WHISPER_FAMILY
        task = SplitTask(self.project.folder, Path(path), speaker, self, split=not whole)
        self.task_bar.show_progress(0, 0, f"Adding {Path(path).name}" if whole else f"Splitting {Path(path).name}")
        task.done.connect(self._split_done)
        task.added.connect(lambda rec: self._transcribe_recording(rec, teacher, speaker))
        task.failed.connect(self._task_failed)
        self._start(task)

    def _split_done(self, ids: list) -> None:
        self._end_task()
        self.rows_changed.emit()
        self.message.emit(f"Split into {_count(len(ids), 'utterance')}.")
        teacher = self.teacher()
        if ids and teacher is not None and QMessageBox.question(
                self.window, "Pre-fill transcripts",
                f"{_count(len(ids), 'utterance')} added. Pre-fill their transcripts with {teacher.name}?") \
                == QMessageBox.StandardButton.Yes:
            self.prelabel(ids)

    def _transcribe_recording(self, rec, teacher: ModelEntry, speaker: str | None) -> None:
        """The recording is in the project: the teacher transcribes it whole (in its worker)."""
        self._end_task()
        bridge = self._bridge(teacher)
        rid = bridge.request_file(rec.file, lambda answer: self._recording_transcribed(rec, speaker, answer))
        self._long = (rec.id, rid, bridge)
        self.task_bar.show_progress(0, 0, f"Transcribing {Path(rec.path).name} with {teacher.name}")

    def _recording_transcribed(self, rec, speaker: str | None, answer) -> None:
        self._long = None
        self.task_bar.hide()
        if not isinstance(answer, TranscribeResult):
            self.message.emit(f"{Path(rec.path).name} was added but not transcribed: {answer.message.splitlines()[0]}")
            return
        try:
            ids = add_transcribed_segments(self.project, rec.id, answer.recognition, speaker)
        except ProjectError as exc:
            self.message.emit(str(exc))
            return
        self.rows_changed.emit()
        self.message.emit(f"Split {Path(rec.path).name} into {len(ids)} utterances transcribed by "
                          f"{answer.recognition.model} (drafts: check them in the Dataset tab).")

    def add_clip(self, source: str | Path, transcript: str = "", confidence: float | None = None) -> int | None:
        """Add one audio file (a take, an opened file) as one utterance, with ``transcript`` as its draft label
        (one undo step); returns its id, or None (a warning says why)."""
        if not self._need_project():
            return None
        source = Path(source)
        try:
            rec = self.project.add_recording(source)
            confidence = None if confidence is None else min(1.0, max(0.0, float(confidence)))
            (uid,) = self.project.add_segments(rec.id, [(0.0, rec.duration)], f"add {source.name}",
                                               labels=[(transcript, confidence)], split=default_split(rec.sha256))
        except ProjectError as exc:
            QMessageBox.warning(self.window, "Add to project", str(exc))
            return None
        self.rows_changed.emit()
        label = f"as a draft: “{transcript}”" if transcript.strip() else "unlabeled (no transcript yet)"
        self.message.emit(f"Added {source.name} to {self.project.folder.name} {label}.")
        return uid

    # -- checking and rescuing ------------------------------------------------------
    def check_project(self, folder: str | Path | None = None, rescue_to: str | Path | None = None) -> list[str] | None:
        """Run SQLite's full integrity check on a project (the open one, ``folder``, or one chosen);
        if it is damaged, offer to copy what is readable into a new project (``rescue_to``, or a
        folder chosen) and open that. Returns the problems ([] = none), or None if nothing was checked."""
        from engine.data.rescue import rescue

        if folder is None:
            folder = self.project.folder if self.project is not None else QFileDialog.getExistingDirectory(
                self.window, "Check project folder", self.settings.last_folder)
        if not folder:
            return None
        folder = Path(folder)
        try:
            with Project.open(folder, check=False, read_only=True) as project:
                problems = project.check()
        except ProjectError as exc:
            QMessageBox.warning(self.window, "Check project", str(exc))
            return None
        if not problems:
            self.message.emit(f"Checked {folder.name}: no problems found.")
            return []
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        if rescue_to is None:
            if QMessageBox.question(
                    self.window, "Check project",
                    f"{folder.name} is damaged: {problems[0]}{more}.\n\nCopy everything that is still readable into "
                    "a new project? The damaged one is left as it is.") != QMessageBox.StandardButton.Yes:
                return problems
            rescue_to = QFileDialog.getExistingDirectory(self.window, "New folder for the rescued project",
                                                         str(folder.parent))
            if not rescue_to:
                return problems
        target = Path(rescue_to)
        if target.is_dir() and any(target.iterdir()):
            target = target / f"{folder.name}-rescued"
        if self.project is not None and _same(self.project.folder, folder):
            self.close_project()
        try:
            report = rescue(folder, target)
        except ProjectError as exc:
            QMessageBox.warning(self.window, "Check project", f"Nothing could be rescued: {exc}")
            return problems
        lost = f" Lost: {'; '.join(report.lost)}." if report.lost else " Nothing was lost."
        self.open_folder(report.folder)
        self.message.emit(f"Rescued {report.utterances} utterances and {report.recordings} recordings of "
                          f"{folder.name} into {report.folder}.{lost}")
        return problems

    # -- the teacher ------------------------------------------------------------
    def teacher(self) -> ModelEntry | None:
        """The model offered first for pre-labeling (:meth:`ModelRegistry.teacher`); None if the
        registry cannot say (then the active model is used)."""
        try:
            return ModelRegistry().teacher(prepare=False)  # named in menus: assembled only when used (_bridge)
        except (RegistryError, OSError):
            return None

    def _bridge(self, entry: ModelEntry | None) -> RecognizerBridge | None:
        """The worker that serves ``entry``: the active model's own, or the teacher's (started on demand)."""
        if entry is None or (self.recognizer is not None and _same(entry.path, self.recognizer.model_path)):
            return self.recognizer
        if self.teacher_bridge is None or not _same(self.teacher_bridge.model_path, entry.path):
            try:
                entry = ModelRegistry().prepare(entry)  # an offline package's model: assembled once (0.3 s)
            except (RegistryError, OSError) as exc:
                self.message.emit(str(exc))
                return self.recognizer
            self._drop_teacher()
            self.teacher_bridge = RecognizerBridge(entry.path, parent=self, name=entry.name)
        return self.teacher_bridge

    def _drop_teacher(self) -> None:
        if self.teacher_bridge is not None:
            self.teacher_bridge.shutdown()
            self.teacher_bridge.deleteLater()
            self.teacher_bridge = None

    def _name_teacher(self) -> None:
        teacher = self.teacher()
        self.prelabel_action.setText(f"Pre-label unlabeled utterances with {teacher.name}" if teacher
                                     else "Pre-label unlabeled utterances")

    def _fill_prelabel_with(self) -> None:
        """Every usable model, the teacher first ("best installed"), the active model marked "in use"."""
        menu = self.prelabel_with_menu
        menu.clear()
        try:
            entries = [e for e in ModelRegistry().list() if e.available]
        except (RegistryError, OSError) as exc:
            menu.addAction(f"Models cannot be listed: {exc}").setEnabled(False)
            return
        teacher = self.teacher()
        entries.sort(key=lambda e: teacher is None or e.id != teacher.id)
        for e in entries:
            notes = []
            if teacher is not None and e.id == teacher.id:
                notes.append("best installed")
            if self.recognizer is not None and _same(e.path, self.recognizer.model_path):
                notes.append("in use")
            label = e.name + (f" ({', '.join(notes)})" if notes else "")
            menu.addAction(label).triggered.connect(lambda _=False, e=e: self._prelabel_with(e))

    def _prelabel_with(self, entry: ModelEntry) -> None:
        try:
            entry = ModelRegistry().prepare(entry)
        except (RegistryError, OSError) as exc:
            self.message.emit(str(exc))
            return
        self.prelabel(model=entry)

    def shutdown(self) -> None:
        """End the teacher's worker process (the studio is closing)."""
        self._drop_teacher()

    def prelabel(self, ids: list[int] | None = None, model: ModelEntry | None = None) -> None:
        """Transcribe ``ids`` (default: the unlabeled utterances) with ``model`` (default: the teacher),
        in the background."""
        bridge = self._bridge(model or self.teacher())
        if bridge is None:
            self.message.emit("Pre-labeling needs a model; none is loaded.")
            return
        if ids is None:
            if not self._need_project():
                return
            ids = [row.id for row in self.project.fetch(UtteranceFilter(status="unlabeled"), limit=1_000_000)]
        if not ids:
            self.message.emit("No unlabeled utterances to pre-label.")
            return
        if self.prelabel_run is None:  # the window started without a model
            self._make_runs(bridge)
            self.mislabel_scan.recognizer = self.recognizer
        self.prelabel_run.recognizer = bridge
        self.prelabel_run.start(ids)

    def find_mislabels(self) -> None:
        """Score every transcribed utterance for "possible mislabel", in the background; then list them first."""
        if self.mislabel_scan is None:
            self.message.emit("Checking labels needs a model; none is loaded.")
            return
        if not self._need_project():
            return
        ids = [row.id for row in self.project.fetch(limit=1_000_000) if row.text.strip()]
        if len(ids) < 2:
            self.message.emit("Label at least two utterances first: the check ranks them against each other.")
            return
        self.mislabel_scan.start(ids)

    def _prelabel_done(self, changed: int, cancelled: bool, summary: str) -> None:
        self.task_bar.hide()
        self.rows_changed.emit()
        self.message.emit(summary)
        if self.sender() is self.mislabel_scan and changed:
            self.mislabels_scored.emit()

    # -- tasks --------------------------------------------------------------------
    def _start(self, task) -> None:
        self._task = task
        task.finished.connect(task.deleteLater)
        task.start()

    def _end_task(self) -> None:
        self._task = None
        self.task_bar.hide()

    def _task_failed(self, message: str) -> None:
        cancelled, self._cancelling = self._cancelling, False
        self._end_task()
        self.message.emit(message)
        if not cancelled:  # the person asked for it: the status bar says it
            QMessageBox.warning(self.window, "Project", message)

    def cancel_task(self) -> None:
        """Cancel the running import or pre-labeling (what is finished of a pre-labeling is kept)."""
        for run in (self.prelabel_run, self.mislabel_scan):
            if run is not None and run.running:
                run.cancel()
        if self._long is not None:  # the recording stays in the project, unsplit
            _rec_id, rid, bridge = self._long
            self._long = None
            bridge.forget({rid})
            if bridge is self.teacher_bridge:  # its worker would decode on for minutes: end it
                self._drop_teacher()
            self.task_bar.hide()
            self.message.emit("Transcription of the long recording cancelled; the recording stays in the project.")
        task = self._task
        if isinstance(task, ImportTask):
            self._cancelling = True
            task.cancel()
        if task is not None:
            task.wait(30_000)

    # -- menus ----------------------------------------------------------------------
    def add_actions(self, file_menu, transcribe_menu) -> None:
        """Add the project commands to the File and Transcribe menus."""
        first = file_menu.actions()[0] if file_menu.actions() else None
        entries = [("New project…", self.new_project), ("Open project…", self.open_project),
                   ("Close project", self.close_project), None,
                   ("Import dataset file…", self.import_file), ("Import dataset folder…", self.import_folder),
                   ("Add long recording (split and transcribed)…", self.add_long_recording),
                   ("Check project…", lambda: self.check_project())]
        self.project_actions = []
        for entry in entries:
            if entry is None:
                file_menu.insertSeparator(first)
                continue
            action = file_menu.addAction(entry[0])
            file_menu.insertAction(first, action)
            action.triggered.connect(lambda _=False, slot=entry[1]: slot())
            self.project_actions.append(action)
        export = file_menu.addMenu("Export project as")
        file_menu.insertMenu(first, export)
        for fmt, label in EXPORT_LABELS.items():
            export.addAction(label).triggered.connect(lambda _=False, f=fmt: self.export_dataset(f))
        file_menu.insertSeparator(first)
        self.prelabel_action = transcribe_menu.addAction("Pre-label unlabeled utterances")
        self.prelabel_action.triggered.connect(lambda: self.prelabel())
        self.prelabel_with_menu = transcribe_menu.addMenu("Pre-label with")
        transcribe_menu.aboutToShow.connect(self._name_teacher)
        self.prelabel_with_menu.aboutToShow.connect(self._fill_prelabel_with)
        self.mislabel_action = transcribe_menu.addAction("Find possible mislabels")
        self.mislabel_action.setToolTip("Rank labeled utterances by how badly the audio and the transcript agree")
        self.mislabel_action.triggered.connect(self.find_mislabels)


def _same(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _count(n: int, noun: str) -> str:
    """``"1 utterance"``, ``"3 utterances"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _inside(path: Path, folder: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except OSError:
        return False


def _unused(path: Path) -> Path:
    """``path``, or ``path 2``, ``path 3``… the first that does not exist."""
    n, candidate = 1, path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name} {n}")
    return candidate
