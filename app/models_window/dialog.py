"""The Models window: the model registry as a table; use, compare, export and remove models.

A thin view over :class:`engine.registry.index.ModelRegistry`. Listing and
changing entries are file operations (milliseconds); **comparing** decodes
the test set with both models, so it runs as a
:class:`engine.jobs.specs.CompareJob` in a worker process through the
shared :class:`app.training.job_queue.TrainingJobQueue` (it waits behind a
training job that is running). The test data is the open project's
``test`` split, or a JSONL manifest.

Signals:
    use_model(str): transcribe with the checkpoint folder at this path from now on.
    message(str): a line for the status bar.
"""
from __future__ import annotations

import html
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.checkpoint_layout import SAYSO_FAMILY, family
from engine.data.manifest import ManifestError, read_manifest
from engine.decode.confidence import describe, model_calibration
from engine.jobs.events import JobFailed, JobFinished, Progress
from engine.jobs.specs import CompareJob
from engine.registry.index import ModelEntry, ModelRegistry, RegistryError
from engine.whisper.folder import WHISPER_FAMILY
from engine.whisper.runtime import whisper_missing

PROJECT_TEST = "Project: test split"
MANIFEST = "Manifest file…"
COLUMNS = ("", "Name", "Family", "Parent", "Created", "Parameters", "Known figures")
FAMILY_NAMES = {SAYSO_FAMILY: "Sayso", WHISPER_FAMILY: "Whisper"}
RESULT_COLUMNS = ("Reference", "Model A heard", "Model B heard", "Better")


def figures_text(metrics: dict, limit: int = 3) -> str:
    """``"set: WER 12.3 %"`` for up to ``limit`` test sets, the rest as ``"+N more"``."""
    parts = [f"{name}: WER {100 * m['wer']:.1f} %" for name, m in metrics.items()
             if isinstance(m, dict) and isinstance(m.get("wer"), (int, float))]
    more = f", +{len(parts) - limit} more" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + more or "—"


def card_html(e: ModelEntry, names: dict[str, str] | None = None) -> str:
    """The model card of an entry as rich text: name, family, what it is good at, source, size,
    lineage and every known figure (WER on held-out speakers)."""
    names = names or {}
    cfg = e.config
    facts = [FAMILY_NAMES.get(e.family, e.family)]
    if cfg.get("size"):
        facts.append(str(cfg["size"]))
    if isinstance(cfg.get("parameters"), (int, float)):
        facts.append(f"{cfg['parameters'] / 1e6:.1f} M parameters")
    if isinstance(cfg.get("bytes"), (int, float)):
        facts.append(f"{cfg['bytes'] / 1e6:.0f} MB on disk")
    if cfg.get("languages"):
        facts.append("English" if cfg["languages"] == "en" else str(cfg["languages"]))
    rows = [f"<b>{html.escape(e.name)}</b> <span style='color:#666'>({html.escape(e.id)})</span>",
            html.escape(" · ".join(facts))]
    if e.notes:
        rows.append(f"<b>Good at:</b> {html.escape(e.notes)}")
    if e.source:
        rows.append(f"<b>Source:</b> {html.escape(e.source)}")
    if e.parent_id or e.parent_path:
        rows.append(f"<b>Trained from:</b> {html.escape(names.get(e.parent_id or '', e.parent_id or e.parent_path))}")
    figures = [(name, m) for name, m in e.metrics.items() if isinstance(m, dict) and isinstance(m.get("wer"), (int, float))]
    if figures:
        items = "".join(f"<li>{html.escape(name)}: WER {100 * m['wer']:.1f} %"
                        + (f" ({m['utterances']} utterances)" if m.get("utterances") else "") + "</li>"
                        for name, m in figures)
        rows.append(f"<b>Held-out figures:</b><ul style='margin:0'>{items}</ul>")
    else:
        rows.append("<b>Held-out figures:</b> none yet (Compare it on your test data below).")
    if e.path:
        rows.append(f"<b>Confidence:</b> {html.escape(describe(model_calibration(e.path, e.name)))}")
    return "<br>".join(rows)


def comparison_summary(report: dict) -> str:
    """One paragraph of a :meth:`Comparison.to_json` report for people."""
    a, b, n = report["a"], report["b"], report["utterances"]
    lead = {"a": f"{a['name']} is better", "b": f"{b['name']} is better", None: "The two models tie"}[report["winner"]]
    return (f"{lead} on these {n} utterance(s). A = {a['name']}: WER {100 * a['wer']:.1f} %, "
            f"CER {100 * a['cer']:.1f} %, better on {a['wins']}. B = {b['name']}: WER {100 * b['wer']:.1f} %, "
            f"CER {100 * b['cer']:.1f} %, better on {b['wins']}. Same on {report['ties']}.")


class ModelsDialog(QDialog):
    use_model = Signal(str)
    message = Signal(str)

    def __init__(self, queue, playback=None, project=None, active_path: str | Path | None = None,
                 registry: ModelRegistry | None = None, vocabulary: list[str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(980, 620)
        self.queue, self.playback, self.project = queue, playback, project
        self.active_path = Path(active_path) if active_path else None
        self.registry = registry or ModelRegistry()
        self.entries: list[ModelEntry] = []
        self.job_id: int | None = None
        self._preparing: ThreadPoolExecutor | None = None
        """Assembling an offline Whisper package's model to use (:meth:`use_selected`), or None."""
        self.report: dict | None = None
        self._out_dir: tempfile.TemporaryDirectory | None = None
        self.test_utterances: list = []  # what the running or last comparison scores, in its rows' order

        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda *_: self.use_selected())

        self.use_button = QPushButton("Use for transcription")
        self.use_button.clicked.connect(self.use_selected)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the model as safetensors + config + model card to a folder")
        self.export_button.clicked.connect(self.export_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.download_button = QPushButton("Download…")
        self.download_button.setToolTip("Download a Whisper model from the Hugging Face hub (needs the internet; "
                                        "an interrupted download resumes, every file is checksummed)")
        self.download_button.clicked.connect(self.choose_download)
        if whisper_missing():  # the base install: the hub's models are Whisper models
            self.download_button.setEnabled(False)
            self.download_button.setToolTip(whisper_missing())
        self.cancel_download_button = QPushButton("Cancel download")
        self.cancel_download_button.setVisible(False)
        self.cancel_download_button.clicked.connect(self.cancel_download)
        self._download: tuple[str, Future, threading.Event, list[int]] | None = None
        """The running download: (model name, its future, its cancel flag, [bytes done, bytes total])."""
        self._download_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="download")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Select two models (Ctrl+click), then compare them on the same test data")
        self.compare_button.clicked.connect(self.compare_selected)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_compare)
        self.cancel_button.setVisible(False)
        self.vocabulary = list(vocabulary or [])
        self.use_vocabulary = QCheckBox(f"Only the loaded vocabulary ({len(self.vocabulary)} phrases)")
        self.use_vocabulary.setToolTip("Score both models with recognition constrained to the Studio's vocabulary "
                                       "(e.g. your commands or digits), as they would be used")
        self.use_vocabulary.setChecked(bool(self.vocabulary))
        self.use_vocabulary.setVisible(bool(self.vocabulary))
        self.test_data = QComboBox()
        self.test_data.setToolTip("The utterances both models are scored on")
        self.progress = QProgressBar()
        self.progress.setVisible(False)

        actions = QHBoxLayout()
        actions.addWidget(self.use_button)
        actions.addWidget(self.export_button)
        actions.addWidget(self.remove_button)
        actions.addWidget(self.download_button)
        actions.addWidget(self.cancel_download_button)
        actions.addStretch(1)
        actions.addWidget(QLabel("Test data:"))
        actions.addWidget(self.test_data)
        actions.addWidget(self.use_vocabulary)
        actions.addWidget(self.compare_button)
        actions.addWidget(self.cancel_button)

        self.summary = QLabel("Select two models and press Compare to score them on the same test data.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.results = QTableWidget(0, len(RESULT_COLUMNS), self)
        self.results.setHorizontalHeaderLabels(RESULT_COLUMNS)
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.results.verticalHeader().setVisible(False)
        self.results.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.results.setToolTip("Utterances where the models differ first; double-click to listen")
        self.results.itemDoubleClicked.connect(self._play_result)

        bottom = QWidget()
        lower = QVBoxLayout(bottom)
        lower.setContentsMargins(0, 0, 0, 0)
        lower.addLayout(actions)
        lower.addWidget(self.progress)
        lower.addWidget(self.summary)
        lower.addWidget(self.results, 1)
        self.card = QLabel()
        self.card.setWordWrap(True)
        self.card.setTextFormat(Qt.TextFormat.RichText)
        self.card.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.card.setMinimumWidth(280)
        self.card.setMargin(6)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.table)
        top.addWidget(self.card)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([260, 360])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

        queue.progress.connect(self._on_progress)
        queue.finished.connect(self._on_finished)
        queue.failed.connect(self._on_failed)
        self.refresh()

    # -- listing ----------------------------------------------------------------
    def refresh(self) -> None:
        """Read the registry again and fill the table (the active model first marked with ●)."""
        try:
            self.entries = self.registry.list()
        except RegistryError as exc:
            self.entries = []
            self.summary.setText(f"The model registry cannot be read: {exc}")
        self.table.setRowCount(len(self.entries))
        names = {e.id: e.name for e in self.entries}
        for row, e in enumerate(self.entries):
            active = self.active_path is not None and _same(e.path, self.active_path)
            params = e.config.get("parameters")
            cells = ("●" if active else "", e.name + _origin(e) + ("" if e.available else " — missing"),
                     FAMILY_NAMES.get(e.family, e.family),
                     names.get(e.parent_id or "", e.parent_id or "—"), e.created[:16].replace("T", " "),
                     f"{params / 1e6:.2f} M" if isinstance(params, (int, float)) else "—", figures_text(e.metrics))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{e.id}\n{e.path}" + (f"\n{e.notes}" if e.notes else ""))
                self.table.setItem(row, col, item)
        self.test_data.clear()
        if self.project is not None:
            self.test_data.addItem(PROJECT_TEST)
        self.test_data.addItem(MANIFEST)
        self._update_buttons()

    def selected(self) -> list[ModelEntry]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.entries[r] for r in rows if r < len(self.entries)]

    def select(self, *model_ids: str) -> None:
        """Select the rows of these ids (for keyboard-free use and tests)."""
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for row, e in enumerate(self.entries):
            if e.id in model_ids:
                self.table.selectRow(row)
        self.table.setSelectionMode(mode)

    def _update_buttons(self) -> None:
        chosen = self.selected()
        one = len(chosen) == 1
        names = {e.id: e.name for e in self.entries}
        self.card.setText(card_html(chosen[0], names) if one else
                          "Select a model to read its card: what it is good at, where it came from and "
                          "how well it did on speakers it never heard.")
        running = self.job_id is not None
        self.use_button.setEnabled(one and chosen[0].available and self._preparing is None)
        self.use_button.setToolTip("Transcribe with this model in the studio")
        self.export_button.setEnabled(one and chosen[0].available and chosen[0].family == SAYSO_FAMILY)
        self.remove_button.setEnabled(one and not chosen[0].read_only)
        self.compare_button.setEnabled(len(chosen) == 2 and all(e.available for e in chosen) and not running)

    # -- actions ------------------------------------------------------------------
    def use_selected(self) -> None:
        chosen = self.selected()
        if len(chosen) != 1 or not chosen[0].available:
            return
        entry = chosen[0]
        if entry.packaged and family(entry.path) is None:
            # an offline Whisper package's first use: assembling copies up to ~145 MB, so off the GUI thread
            self._preparing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assemble")
            future = self._preparing.submit(self.registry.set_active, entry.id)
            self.use_button.setEnabled(False)
            self.message.emit(f"Preparing {entry.name} (once, a few seconds)…")
            self._poll_prepared(future)
            return
        try:
            entry = self.registry.set_active(entry.id)
        except RegistryError as exc:
            QMessageBox.warning(self, "Models", str(exc))
            return
        self._use(entry)

    def _poll_prepared(self, future: Future) -> None:
        """Until the offline package's model is assembled (:meth:`use_selected`), then use it."""
        if not future.done():
            QTimer.singleShot(100, self, lambda: self._poll_prepared(future))  # dropped if the window is gone
            return
        self._preparing.shutdown(wait=False)
        self._preparing = None
        try:
            entry = future.result()
        except Exception as exc:  # noqa: BLE001 - a bad package, a full disk, …: one message, never a traceback
            self._update_buttons()
            QMessageBox.warning(self, "Models", f"The model cannot be prepared: {exc}")
            return
        self._use(entry)

    # -- downloading from the model hub ---------------------------------------------
    def downloadable(self) -> list[str]:
        """Hub model names (:data:`engine.whisper.download.HUB_MODELS`) not already usable here."""
        from engine.whisper.download import HUB_MODELS

        have = {e.id for e in self.entries if e.available}
        return [name for name in HUB_MODELS if name not in have]

    def choose_download(self) -> None:
        menu = QMenu(self)
        for name in self.downloadable():
            menu.addAction(name).triggered.connect(lambda _=False, n=name: self.download(n))
        menu.exec(self.download_button.mapToGlobal(self.download_button.rect().bottomLeft()))

    def download(self, name: str) -> bool:
        """Pull ``name`` from the hub in a background thread (:meth:`ModelRegistry.pull`: resumable,
        checksummed) with a progress bar and Cancel; False if a download is already running."""
        if self._download is not None:
            return False
        cancel, done = threading.Event(), [0, 0]

        def progress(n: int, total: int) -> None:
            done[0], done[1] = n, total

        future = self._download_pool.submit(self.registry.pull, name, None, progress, cancel)
        self._download = (name, future, cancel, done)
        self.download_button.setEnabled(False)
        self.cancel_download_button.setVisible(True)
        self.progress.setRange(0, 0)
        self.progress.setFormat(f"Downloading {name}… %p%")
        self.progress.setVisible(True)
        self.summary.setText(f"Downloading {name} from the model hub…")
        self._poll_download()
        return True

    def cancel_download(self) -> None:
        """Stop the running download at its next block (what arrived is kept: Download again resumes)."""
        if self._download is not None:
            self._download[2].set()

    def _poll_download(self) -> None:
        if self._download is None:
            return
        name, future, cancel, (done, total) = self._download
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"Downloading {name}: {done / 1e6:.0f} of {total / 1e6:.0f} MB")
        if not future.done():
            QTimer.singleShot(100, self, self._poll_download)  # dropped if the window is gone
            return
        self._download = None
        self.progress.setVisible(False)
        self.cancel_download_button.setVisible(False)
        self.download_button.setEnabled(not whisper_missing())
        exc = future.exception()
        if exc is None:
            self.refresh()
            self.select(name)
            text = f"Downloaded {name}; it is listed above (Use for transcription to try it)."
        elif cancel.is_set():
            text = f"Download of {name} cancelled; Download it again to resume where it stopped."
        else:  # DownloadError (offline, checksum, …), RegistryError, OSError: one line, never a traceback
            text = f"{name} was not downloaded: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        self.summary.setText(text)
        self.message.emit(text)

    def _use(self, entry: ModelEntry) -> None:
        self.active_path = entry.path
        self.use_model.emit(str(entry.path))
        self.refresh()

    def export_selected(self, folder: str | None = None) -> Path | None:
        from engine.registry.export import ExportError, export_model

        chosen = self.selected()
        if len(chosen) != 1:
            return None
        folder = folder or QFileDialog.getExistingDirectory(self, f"Export {chosen[0].name} into folder")
        if not folder:
            return None
        folder = Path(folder)
        out = folder / chosen[0].id if folder.is_dir() and any(folder.iterdir()) else folder  # never over files
        try:
            path = export_model(chosen[0], out)
        except (ExportError, OSError) as exc:
            QMessageBox.warning(self, "Export", f"The model was not exported: {exc}")
            return None
        self.message.emit(f"Exported {chosen[0].name} to {path}")
        return path

    def remove_selected(self) -> None:
        chosen = self.selected()
        if len(chosen) != 1 or chosen[0].read_only:
            return
        e = chosen[0]
        what = "Its files are deleted." if e.stored else "Its checkpoint folder stays on disk."
        if QMessageBox.question(self, "Remove model", f"Remove {e.name} from the list? {what}") \
                != QMessageBox.StandardButton.Yes:
            return
        try:
            self.registry.remove(e.id)
        except RegistryError as exc:
            QMessageBox.warning(self, "Models", str(exc))
        self.refresh()

    def compare_selected(self, manifest: str | None = None) -> int | None:
        """Queue a comparison of the two selected models; returns the job id (None: nothing started)."""
        from app.training.data_choice import project_utterances

        chosen = self.selected()
        if len(chosen) != 2 or self.job_id is not None:
            return None
        if self.test_data.currentText() == PROJECT_TEST and manifest is None:
            test = project_utterances(self.project, "test")
            if not test:
                QMessageBox.information(self, "Compare", "The project has no labeled utterances in its test split. "
                                        "Mark some as test in the Dataset tab, or choose a manifest.")
                return None
        else:
            manifest = manifest or QFileDialog.getOpenFileName(self, "Test manifest", "", "Manifests (*.jsonl)")[0]
            if not manifest:
                return None
            try:
                test = read_manifest(manifest)
            except (ManifestError, OSError) as exc:
                QMessageBox.warning(self, "Compare", f"The manifest cannot be read: {exc}")
                return None
        self.test_utterances = list(test)
        self._out_dir = tempfile.TemporaryDirectory(prefix="sayso-compare-")
        vocabulary = tuple(self.vocabulary) if self.vocabulary and self.use_vocabulary.isChecked() else None
        job = CompareJob(self._out_dir.name, chosen[0].id, chosen[1].id, test, vocabulary=vocabulary,
                         registry=str(self.registry.root))
        try:
            self.job_id = self.queue.submit(job)
        except ValueError as exc:
            QMessageBox.warning(self, "Compare", str(exc))
            return None
        waiting = " (after the running job)" if self.queue.running not in (None, self.job_id) else ""
        self.summary.setText(f"Comparing {chosen[0].name} (A) and {chosen[1].name} (B){waiting}…")
        self.results.setRowCount(0)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self._update_buttons()
        return self.job_id

    def cancel_compare(self) -> None:
        if self.job_id is not None:
            self.queue.cancel(self.job_id)

    # -- job events -----------------------------------------------------------------
    def _on_progress(self, e: Progress) -> None:
        if e.job_id == self.job_id and e.total:
            self.progress.setRange(0, e.total)
            self.progress.setValue(e.done)

    def _done(self) -> None:
        self.job_id = None
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self._update_buttons()

    def _on_finished(self, e: JobFinished) -> None:
        if e.job_id != self.job_id:
            return
        self._done()
        self.report = e.report
        self.summary.setText(comparison_summary(e.report))
        self._fill_results(e.report["per_utterance"])
        self.refresh()  # both entries now carry the figures
        self.message.emit(comparison_summary(e.report))

    def _on_failed(self, e: JobFailed) -> None:
        if e.job_id != self.job_id:
            return
        self._done()
        self.summary.setText(f"The comparison stopped: {e.message}")

    def _fill_results(self, rows: list[dict]) -> None:
        order = sorted(range(len(rows)), key=lambda i: (rows[i]["winner"] is None,
                                                         -abs(rows[i]["wer_a"] - rows[i]["wer_b"])))
        self.results.setRowCount(len(order))
        for i, index in enumerate(order):
            r = rows[index]
            better = {"a": "A", "b": "B", None: "same"}[r["winner"]]
            for col, text in enumerate((r["reference"], r["hypothesis_a"], r["hypothesis_b"], better)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, index)
                self.results.setItem(i, col, item)

    def _play_result(self, item: QTableWidgetItem) -> None:
        from engine.audio.errors import AudioError
        from engine.audio.io import load_segment

        index = item.data(Qt.ItemDataRole.UserRole)
        if self.playback is None or not isinstance(index, int) or index >= len(self.test_utterances):
            return
        u = self.test_utterances[index]
        try:
            audio = load_segment(u.audio_path, u.start, u.end)
        except (AudioError, OSError) as exc:
            self.summary.setText(f"Cannot play {u.audio_path.name}: {exc}")
            return
        self.playback.play(audio)

    def done(self, result: int) -> None:  # noqa: D102 - closing cancels a running comparison and download
        self.cancel_compare()
        self.cancel_download()  # its .part files stay: the next download resumes
        self._download_pool.shutdown(wait=False)
        super().done(result)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _origin(entry) -> str:
    """What the name cell adds about where a model comes from."""
    if entry.external:
        return " (Hugging Face cache)"
    if entry.packaged:
        return " (offline package)"
    return " (bundled)" if entry.builtin else ""
