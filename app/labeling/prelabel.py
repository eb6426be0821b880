"""Model-assisted labeling: run the model over a project's utterances in the background.

:class:`PrelabelRun` sends one utterance at a time (two in flight) to the
recognition worker process through :meth:`app.recognizer_bridge.RecognizerBridge.request`,
so the window never waits. The transcripts and confidences are stored with
:meth:`engine.data.store.Project.apply_model_labels` as one undoable edit
when the run ends, is cancelled or fails part-way: finished work is kept.

:class:`MislabelScan` scores each labeled utterance's audio against its
transcript (audio–text similarity and CTC likelihood,
:mod:`engine.insight.scoring`, through :meth:`~app.recognizer_bridge.RecognizerBridge.score`)
and stores a "possible mislabel" score, so
the table can list the probable mislabels first.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.audio.errors import AudioError
from engine.audio.io import load_segment
from engine.data.errors import ProjectError
from engine.insight.scoring import mislabel_scores
from engine.workers.recognition import ScoreResult, TranscribeResult

IN_FLIGHT = 2


class PrelabelRun(QObject):
    """Pre-label utterances with the active model.

    Signals:
        progress(int, int): utterances done and total.
        finished(int, bool, str): utterances changed, whether it was cancelled,
            and a summary for the status bar (including any that failed).
    """

    progress = Signal(int, int)
    finished = Signal(int, bool, str)
    verb = "Pre-labeled"
    answer_type = TranscribeResult

    def __init__(self, recognizer, project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.recognizer, self.project = recognizer, project
        self._queue: list[int] = []
        self._in_flight: set[int] = set()
        self._labels: list[tuple[int, str, float]] = []
        self._problems: list[str] = []
        self._total = self._done = 0
        self.running = False

    def start(self, utterance_ids: list[int], vocabulary: list[str] | None = None) -> None:
        """Transcribe these utterances (no-op while a run is going on)."""
        if self.running:
            return
        self._queue, self._vocabulary = list(utterance_ids), vocabulary
        self._labels, self._problems, self._in_flight = [], [], set()
        self._total, self._done, self.running = len(self._queue), 0, True
        self.progress.emit(0, self._total)
        self._pump()

    def cancel(self) -> None:
        """Stop sending; keep what is finished."""
        if not self.running:
            return
        self.recognizer.forget(self._in_flight)
        self._queue.clear()
        self._in_flight.clear()
        self._end(cancelled=True)

    def _pump(self) -> None:
        while self.running and self._queue and len(self._in_flight) < IN_FLIGHT:
            uid = self._queue.pop(0)
            try:
                row = self.project.utterance(uid)
                audio = load_segment(self.project.recording(row.recording_id).file, row.start, row.end)
            except (AudioError, ProjectError) as exc:
                self._problems.append(str(exc))
                self._step()
                continue
            rid = self._request(uid, row, audio)
            self._in_flight.add(rid)
        if self.running and not self._queue and not self._in_flight:
            self._end(cancelled=False)

    def _request(self, uid: int, row, audio) -> int:
        return self.recognizer.request(audio, lambda answer, uid=uid: self._on_answer(uid, answer), self._vocabulary)

    def _collect(self, uid: int, answer: TranscribeResult) -> None:
        rec = answer.recognition
        self._labels.append((uid, rec.text, min(1.0, max(0.0, float(rec.confidence)))))

    def _store(self) -> int:
        return self.project.apply_model_labels(self._labels, model=self.recognizer.model_path.name)

    def _on_answer(self, uid: int, answer) -> None:
        self._in_flight.discard(answer.request_id)
        if isinstance(answer, self.answer_type):
            self._collect(uid, answer)
        else:
            self._problems.append(answer.message.splitlines()[0])
        self._step()
        self._pump()

    def _step(self) -> None:
        self._done += 1
        self.progress.emit(self._done, self._total)

    def _end(self, cancelled: bool) -> None:
        self.running = False
        changed, problems = 0, list(self._problems)
        try:
            changed = self._store()
        except ProjectError as exc:
            problems.append(str(exc))
        summary = (f"{self.verb} {len(self._labels)} of {self._total} utterances"
                   f"{' (cancelled)' if cancelled else ''}; {changed} changed.")
        if problems:
            summary += f" {len(problems)} could not be transcribed: {problems[0]}"
        self.finished.emit(changed, cancelled, summary)


class MislabelScan(PrelabelRun):
    """Score labeled utterances for "possible mislabel" (see the module docstring).

    The score is the rank of low CTC likelihood and low audio–text
    similarity within the scored set (:func:`engine.insight.scoring.mislabel_scores`),
    stored with :meth:`engine.data.store.Project.set_mislabel_scores`.
    """

    verb = "Checked"
    answer_type = ScoreResult

    def _request(self, uid: int, row, audio) -> int:
        return self.recognizer.score(audio, row.text, lambda answer, uid=uid: self._on_answer(uid, answer))

    def _collect(self, uid: int, answer: ScoreResult) -> None:
        self._labels.append((uid, answer.similarity, answer.ctc_per_token))

    def _store(self) -> int:
        if not self._labels:
            return 0
        ids, sims, ctcs = zip(*self._labels)
        scores = mislabel_scores(None if None in sims else np.array(sims), np.array(ctcs))
        return self.project.set_mislabel_scores(zip(ids, (float(v) for v in scores)))
