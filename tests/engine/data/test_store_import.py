"""``Project.import_items`` / ``export_items`` on real corpora (FSDD, Speech
Commands from the shared data): all-or-nothing per source, rejects, round trip."""
from __future__ import annotations

import errno
import shutil

import pytest

from engine.data import recordings as recordings_module
from engine.data.records import ImportReport, Reject
from engine.data.store import Project, ProjectError, UtteranceFilter
from engine.data.utterance import Utterance
from tests.engine.data.store_helpers import DIGIT, NO, YES
from tests.helpers import shared_data

DIGITS = "zero one two three four five six seven eight nine".split()


def fsdd_items(n: int) -> list[Utterance]:
    """The first ``n`` FSDD recordings as whole-file items: "7_george_3.wav" → "seven", speaker george."""
    files = sorted((shared_data() / "fsdd" / "recordings").glob("*.wav"))[:n]
    assert len(files) == n
    out = []
    for i, f in enumerate(files):
        digit, speaker, _ = f.stem.split("_")
        out.append(Utterance(f, DIGITS[int(digit)], speaker=speaker,
                              split=("train", "dev", "test")[i % 3], tags=("fsdd",)))
    return out


def test_import_a_real_corpus_and_export_it_back(tmp_path):
    items = fsdd_items(30)
    with Project.create(tmp_path / "p") as project:
        seen = []
        report = project.import_items(items, "fsdd.csv", progress=lambda done, total: seen.append((done, total)))
        assert report == ImportReport(30, [])
        assert seen[-1] == (30, 30) and len(seen) == 30
        assert project.count() == 30
        assert project.count(UtteranceFilter(split="dev")) == 10
        assert project.speakers() == sorted({i.speaker for i in items})
        recs = project.recordings()
        assert len(recs) == 30 and all(r.sample_rate == 8000 and r.file.parent == project.audio_dir.absolute()
                                       for r in recs)
        row = project.fetch(limit=1)[0]
        assert (row.start, row.status, row.tags) == (0.0, "draft", ("fsdd",))
        assert row.end == pytest.approx(recs[0].duration)
        exported = project.export_items()
    assert len(exported) == 30
    for item, back in zip(items, exported):
        assert back.audio_path.is_absolute() and back.audio_path.read_bytes() == item.audio_path.read_bytes()
        assert (back.text, back.start, back.end, back.speaker, back.split, back.tags) == \
            (item.text, None, None, item.speaker, item.split, item.tags)
    # exported records import into another project unchanged
    with Project.create(tmp_path / "copy") as other:
        assert other.import_items(exported, "export").added == 30
        assert [(i.text, i.speaker, i.split, i.tags) for i in other.export_items()] == \
            [(i.text, i.speaker, i.split, i.tags) for i in items]


def test_segments_of_one_file_share_one_recording(tmp_path):
    clip = sorted((shared_data() / "speech_commands" / "left").glob("*.wav"))[0]
    items = [Utterance(clip, "", 0.0, 0.25), Utterance(clip, "left", 0.25, 0.75, speaker="x"),
             Utterance(clip, "tail", 0.75, None), Utterance(clip, "head", None, 0.1)]
    with Project.create(tmp_path / "p") as project:
        assert project.import_items(items, "labels.txt", status="verified").added == 4
        assert len(project.recordings()) == 1
        rows = project.fetch(order_by="start")
        assert [(r.start, r.end, r.text, r.status) for r in rows] == [  # ties by id
            (0.0, 0.25, "", "verified"), (0.0, 0.1, "head", "verified"),
            (0.25, 0.75, "left", "verified"), (0.75, 1.0, "tail", "verified")]
        exported = project.export_items(UtteranceFilter(text="left"))
        assert [(e.start, e.end) for e in exported] == [(0.25, 0.75)]


def test_unusable_items_are_rejected_and_the_rest_imported(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....garbage")
    fresh = tmp_path / "fresh.wav"
    shutil.copy(NO, fresh)
    items = [
        Utterance(YES, "yes"),                                       # 1 ok
        Utterance(tmp_path / "missing.wav", "gone"),                 # 2 no such file
        Utterance(bad, "bad"),                                       # 3 unreadable
        Utterance(YES, "late", 0.5, 3.0),                            # 4 after the end
        Utterance(YES, "backwards", 0.8, 0.2),                       # 5 end before start
        Utterance(fresh, "odd split", split="validation"),           # 6 bad split (new file)
        Utterance(YES, "empty tag", tags=("ok", " ")),               # 7 empty tag
        Utterance(YES, "nan", float("nan"), 0.5),                    # 8 not a time
        Utterance(bad, "bad again"),                                 # 9 unreadable (cached)
        Utterance(DIGIT, "seven", 0.0, 0.4),                         # 10 ok: 0.4 s > 0.372 s is clamped
    ]
    with Project.create(tmp_path / "p") as project:
        report = project.import_items(items, "list.txt")
        assert report.added == 2
        reasons = {int(r.reason.split(":")[0].split()[1]): r.reason for r in report.rejects}
        assert all(r.source == "list.txt" and r.line is None for r in report.rejects)
        assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9]
        assert "missing.wav: no such file" in reasons[2]
        assert "bad.wav: not a readable audio file" in reasons[3] and "bad.wav" in reasons[9]
        assert "(sc_yes_03401e93.wav): it ends at 3.00 s, after the end of the audio (1.00 s)" in reasons[4]
        assert "must start at 0 s or later and end after it starts" in reasons[5]
        assert "split must be train, dev, test or none (got split 'validation')" in reasons[6]
        assert "a tag cannot be empty" in reasons[7]
        assert "not a finite number of seconds" in reasons[8]
        assert [(r.text, r.end) for r in project.fetch()] == [("yes", 1.0), ("seven", pytest.approx(0.372375))]
        # the new file of the rejected item 6 was neither kept as a recording nor copied
        assert sorted(p.name for p in project.audio_dir.iterdir()) == [DIGIT.name, YES.name]
        assert len(project.recordings()) == 2
        assert project.unreferenced_audio() == []


def test_a_failing_import_leaves_nothing_behind(tmp_path, monkeypatch):
    items = fsdd_items(12)
    with Project.create(tmp_path / "p") as project:
        project.import_items([Utterance(YES, "kept")], "first.txt")

        def cancel(done, total):
            if done == 8:
                raise KeyboardInterrupt("user cancelled")

        with pytest.raises(KeyboardInterrupt):
            project.import_items(items, "fsdd.csv", progress=cancel)
        assert [r.text for r in project.fetch()] == ["kept"]
        assert [p.name for p in project.audio_dir.iterdir()] == [YES.name]

        # the disk fills up at the 6th copy: the whole source is rolled back
        real = recordings_module._link_free_name
        calls = []

        def fill_up(tmp, folder, name):
            calls.append(name)
            if len(calls) == 6:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(tmp, folder, name)

        monkeypatch.setattr(recordings_module, "_link_free_name", fill_up)
        with pytest.raises(ProjectError, match=r"^Cannot import fsdd.csv: .*could not be copied into the project "
                                               r"\(the disk is full"):
            project.import_items(items, "fsdd.csv")
        assert [r.text for r in project.fetch()] == ["kept"]
        assert [p.name for p in project.audio_dir.iterdir()] == [YES.name]
        assert project.speakers() == [] and len(project.recordings()) == 1
        monkeypatch.undo()
        assert project.import_items(items, "fsdd.csv").added == 12


def test_import_without_copying_references_files_in_place(tmp_path):
    items = fsdd_items(3)
    with Project.create(tmp_path / "p") as project:
        assert project.import_items(items, "fsdd.csv", copy=False).added == 3
        assert list(project.audio_dir.iterdir()) == []
        assert [r.file for r in project.recordings()] == [i.audio_path.absolute() for i in items]
        assert [e.audio_path for e in project.export_items()] == [i.audio_path.absolute() for i in items]


def test_records_are_plain_values():
    item = Utterance(YES, "yes")
    assert (item.start, item.end, item.speaker, item.split, item.tags) == (None, None, None, None, ())
    with pytest.raises(AttributeError):
        item.text = "no"  # frozen
    assert str(Reject("a.tsv", 3, "no audio")) == "a.tsv, line 3: no audio"
    assert str(Reject("a.tsv", None, "empty file")) == "a.tsv: empty file"
    assert ImportReport(2) == ImportReport(2, [])
