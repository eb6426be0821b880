"""What every reader and writer in :mod:`engine.data.formats` shares.

Readers never raise on bad content: a :class:`ReadContext` collects a
:class:`~engine.data.records.Reject` for every line (or file) it cannot use and
checks, in this order, that

- an audio path stays inside the import root (``..``, absolute paths and
  symlinks that resolve outside it are refused before anything is opened),
- the audio file is a regular, readable audio file (``soundfile.info``, which
  reads only the header) with the expected sample rate, if one is given,
- a segment has ``0 <= start < end <= duration`` (within
  :data:`END_TOLERANCE`) and does not overlap an earlier accepted segment
  of the same file.

Text files are read line by line as UTF-8 (a leading byte-order mark is
dropped); a line that is not UTF-8 is reported with its number. All times are
in seconds, rounded to :data:`TIME_DECIMALS` decimals (microseconds) so that a
value written and read back compares equal.
"""
from __future__ import annotations

import bisect
import math
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from engine.atomic import atomic_write
from engine.audio.errors import AudioError
from engine.audio.io import audio_info
from engine.data.records import Reject
from engine.data.utterance import WHOLE_TOLERANCE, Utterance

END_TOLERANCE = 0.05
"""Seconds a segment may end after its audio file (label files round times);
the same allowance as :data:`engine.data.store.END_TOLERANCE`, which clamps
such ends on import."""

TIME_DECIMALS = 6
"""Times are kept to the microsecond (Audacity writes six decimals)."""

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif")
"""Audio files looked for beside a TextGrid or label file, in this order."""

ASCII_WHITESPACE = " \t\r\n\f\v"
"""A line holding only these is blank and skipped (not a reject)."""

SPLITS = ("train", "dev", "test")

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def round_time(t: float) -> float:
    """``t`` in seconds rounded to :data:`TIME_DECIMALS` (``-0.0`` becomes ``0.0``)."""
    return round(float(t), TIME_DECIMALS) + 0.0


def fmt_time(t: float) -> str:
    """Seconds as a plain decimal without exponent or trailing zeros: ``1.5``, ``0.000001``, ``3``."""
    s = f"{round_time(t):.{TIME_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def parse_time(text: str) -> float | str:
    """A time in seconds from ``text``, or the reason it is not one."""
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return f"'{_clip(text)}' is not a number of seconds"
    if not math.isfinite(value):
        return f"'{_clip(text)}' is not a finite number of seconds"
    return round_time(value)


def clean_text(text: str) -> str:
    """A transcript as stored: line breaks become spaces, surrounding whitespace is dropped."""
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").strip()


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL character, an unpaired surrogate), or None."""
    if "\x00" in text:
        return "the text holds a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "the text holds an unpaired UTF-16 surrogate (not valid Unicode text)"
    return None


def _clip(text: str, n: int = 60) -> str:
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: n + 1])  # NUL, surrogates, tabs: escaped
    return text if len(text) <= n else text[: n - 1] + "…"


def show(text: str, n: int = 60) -> str:
    """``text`` shortened and made printable for a reject reason."""
    return _clip(text, n)


@dataclass(frozen=True)
class AudioFacts:
    """What a reader needs from an audio header: rate in Hz, channel count, duration in seconds."""

    samplerate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate


def _safe_path_text(raw: str) -> str | None:
    if "\x00" in raw:
        return "the path holds a NUL character"
    try:
        raw.encode("utf-8")  # strict: a file name that is not UTF-8 cannot be stored in the project
    except UnicodeError:
        return f"the path {_clip(raw)} is not valid UTF-8 text"
    return None


def _resolve(p: Path) -> Path | None:
    try:
        return p.resolve()
    except (OSError, RuntimeError, ValueError):  # symlink loop, NUL, unencodable
        return None


@dataclass
class ReadContext:
    """The state of one read: the import root, cached audio headers, accepted spans, rejects.

    Args:
        root: the import root; no audio or label file outside it is opened.
        sample_rate: expected rate in Hz, or None to accept any rate.
    """

    root: Path
    sample_rate: int | None = None
    rejects: list[Reject] = field(default_factory=list)
    _audio: dict[Path, AudioFacts | str] = field(default_factory=dict)
    _spans: dict[Path, tuple[list[float], list[tuple[float, float, str]]]] = field(default_factory=dict)

    @classmethod
    def create(cls, root: str | os.PathLike | None, default: Path, sample_rate: int | None = None) -> ReadContext:
        """A context rooted at ``root`` (default: ``default``), resolved."""
        base = Path(root) if root is not None else default
        resolved = _resolve(base.absolute())
        return cls(resolved if resolved is not None else base.absolute(), sample_rate)

    def reject(self, source: str, line: int | None, reason: str) -> None:
        self.rejects.append(Reject(source, line, reason))

    def inside(self, path: Path) -> Path | str:
        """``path`` resolved, or why it is refused: it lies (or a symlink points) outside the root."""
        raw = str(path)
        problem = _safe_path_text(raw)
        if problem:
            return problem
        absolute = path if path.is_absolute() else Path.cwd() / path
        resolved = _resolve(absolute)
        if resolved is None:
            return f"cannot resolve the path {show(raw)}"
        if resolved == self.root or resolved.is_relative_to(self.root):
            return resolved
        lexical = Path(os.path.normpath(absolute))
        if lexical.is_relative_to(self.root):
            return f"{show(raw)} is a symlink to {show(str(resolved))}, outside the import folder {self.root}: refused"
        return f"{show(raw)} is outside the import folder {self.root}: refused"

    def locate(self, raw: str, base: Path) -> Path | str:
        """The audio file named ``raw`` (absolute, or relative to ``base``), resolved inside the root, or a reason."""
        problem = _safe_path_text(raw)
        if problem:
            return problem
        if not raw.strip():
            return "the audio path is empty"
        p = Path(raw)
        return self.inside(p if p.is_absolute() else base / p)

    def audio(self, path: Path) -> AudioFacts | str:
        """The header of ``path`` (already inside the root), or why it cannot be used. Cached."""
        if path in self._audio:
            return self._audio[path]
        facts: AudioFacts | str
        try:
            if not path.exists():
                facts = f"no such audio file: {show(str(path), 120)}"
            elif not path.is_file():  # a folder, FIFO or device: never opened
                facts = f"{show(str(path), 120)} is not a regular file"
            else:
                info = audio_info(path)
                if info.frames <= 0 or info.samplerate <= 0:
                    facts = f"{path.name}: the file holds no audio"
                else:
                    facts = AudioFacts(int(info.samplerate), int(info.channels), int(info.frames))
        except AudioError as exc:
            facts = str(exc)
        except (OSError, ValueError) as exc:
            facts = f"{show(str(path), 120)}: cannot be read ({exc.__class__.__name__}: {exc})"
        if isinstance(facts, AudioFacts) and self.sample_rate and facts.samplerate != self.sample_rate:
            facts = f"{path.name}: sample rate {facts.samplerate} Hz, expected {self.sample_rate} Hz"
        self._audio[path] = facts
        return facts

    def span(self, facts: AudioFacts, start: float | None, end: float | None,
             ) -> tuple[float | None, float | None] | str:
        """Check a segment of a file of ``facts.duration`` seconds; returns ``(start, end)`` or a reason.

        ``start is None`` means 0; ``end is None`` means the end of the file. A span
        covering the whole file (within :data:`WHOLE_TOLERANCE`) comes back as
        ``(None, None)``; any other span with both times set (an open end becomes
        the file's duration). Overlaps are checked by :meth:`claim`.
        """
        dur = facts.duration
        if start is None and end is None:
            return None, None
        s = 0.0 if start is None else round_time(start)
        e = None if end is None else round_time(end)
        for name, v in (("start", s), ("end", e)):
            if v is not None and not math.isfinite(v):
                return f"the {name} time is not a finite number"
        if s < 0:
            return f"negative start time {fmt_time(s)} s"
        if e is not None and e < 0:
            return f"negative end time {fmt_time(e)} s"
        if e is not None and e <= s:
            return f"the end ({fmt_time(e)} s) is not after the start ({fmt_time(s)} s)"
        if s >= dur:
            return f"starts at {fmt_time(s)} s, after the end of the audio ({fmt_time(dur)} s)"
        if e is not None and e > dur + END_TOLERANCE:
            return f"ends at {fmt_time(e)} s, after the end of the audio ({fmt_time(dur)} s)"
        if s == 0 and (e is None or abs(e - dur) <= WHOLE_TOLERANCE):
            return None, None
        return s, (round_time(dur) if e is None else e)

    def claim(self, path: Path, facts: AudioFacts, start: float | None, end: float | None, where: str) -> str | None:
        """Record an accepted span of ``path``; returns why it cannot be (an overlap), or None.

        Accepted spans of a file never overlap, so only the neighbours of the
        new span (by start time) need checking: O(log n) per span.

        Args:
            where: how to name this span in a later overlap message ("line 4").
        """
        s = 0.0 if start is None else start
        e = facts.duration if end is None else end
        starts, spans = self._spans.setdefault(path, ([], []))
        i = bisect.bisect_left(starts, s)
        for s2, e2, where2 in spans[max(0, i - 1):i + 1]:
            if s < e2 and s2 < e:
                if (s, e) == (s2, e2):
                    return f"duplicate of {where2} (same audio and times)"
                return f"overlaps {where2} ({fmt_time(s2)}–{fmt_time(e2)} s) in {path.name}"
        starts.insert(i, s)
        spans.insert(i, (s, e, where))
        return None

    def item_problem(self, path: Path, start: float | None, end: float | None, where: str,
                     ) -> tuple[Path, float | None, float | None] | str:
        """Audio check + span check + overlap claim for an audio file already inside the root."""
        facts = self.audio(path)
        if isinstance(facts, str):
            return facts
        span = self.span(facts, start, end)
        if isinstance(span, str):
            return span
        problem = self.claim(path, facts, span[0], span[1], where)
        if problem:
            return problem
        return path, span[0], span[1]


def _regular(path: Path, ctx: ReadContext, source: str) -> bool:
    """True if ``path`` is a regular file; else one reject (opening a FIFO would block forever)."""
    try:
        if path.is_file():
            return True
        reason = "no such file" if not path.exists() else "not a regular file"
    except OSError as exc:
        reason = f"cannot read the file: {exc.strerror or exc}"
    ctx.reject(source, None, reason)
    return False


def iter_lines(path: Path, ctx: ReadContext, source: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` for each non-blank UTF-8 line of ``path``.

    Lines end at ``\\n`` (a trailing ``\\r`` is dropped). A line that is not
    UTF-8 is reported to ``ctx`` and skipped; a file that cannot be opened, or
    is UTF-16, is reported once (line None). Never raises; never opens a FIFO or device.
    """
    if not _regular(path, ctx, source):
        return
    try:
        with open(path, "rb") as fh:
            first = True
            for n, raw in enumerate(fh, 1):
                if first:
                    first = False
                    if raw.startswith(_UTF16_BOMS):
                        ctx.reject(source, None, "the file is UTF-16 text; save it as UTF-8")
                        return
                    if raw.startswith(b"\xef\xbb\xbf"):
                        raw = raw[3:]
                raw = raw.rstrip(b"\n")
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    ctx.reject(source, n, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})")
                    continue
                if not line.strip(ASCII_WHITESPACE):
                    continue
                yield n, line
    except OSError as exc:
        ctx.reject(source, None, f"cannot read the file: {exc.strerror or exc}")


def read_text(path: Path, ctx: ReadContext, source: str, utf16: bool = False) -> str | None:
    """The whole file as text (UTF-8, or UTF-16 with a byte-order mark if ``utf16``), or None after a reject."""
    if not _regular(path, ctx, source):
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        ctx.reject(source, None, f"cannot read the file: {exc.strerror or exc}")
        return None
    if data.startswith(_UTF16_BOMS):
        if not utf16:
            ctx.reject(source, None, "the file is UTF-16 text; save it as UTF-8")
            return None
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            ctx.reject(source, None, "the file starts like UTF-16 text but is not valid UTF-16")
            return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        ctx.reject(source, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x}); the file was not read")
        return None


def beside_audio(label: Path, ctx: ReadContext) -> Path | str:
    """The audio file with ``label``'s stem in its folder (first of :data:`AUDIO_SUFFIXES`), or a reason."""
    tried = []
    for suffix in AUDIO_SUFFIXES:
        for s in (suffix, suffix.upper()):
            candidate = label.with_name(label.stem + s)
            tried.append(candidate.name)
            try:
                if candidate.exists():
                    return ctx.inside(candidate)
            except OSError:
                continue
    return f"no audio file beside it ({', '.join(tried[::2])})"


def list_files(folder: Path, suffixes: tuple[str, ...], ctx: ReadContext) -> list[Path]:
    """Files in ``folder`` (not recursive) whose suffix is one of ``suffixes`` (any case), sorted.

    Files that resolve outside the root are reported and left out.
    """
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        ctx.reject(folder.name, None, f"cannot list the folder: {exc.strerror or exc}")
        return []
    out = []
    for p in entries:
        if p.suffix.lower() not in suffixes:
            continue
        where = ctx.inside(p)
        if isinstance(where, str):
            ctx.reject(p.name, None, where)
        else:
            out.append(p)
    return out


def guarded(source: str, ctx: ReadContext, fn, *args, **kwargs) -> None:
    """Run ``fn``; an unexpected exception becomes one reject instead of escaping a reader."""
    try:
        fn(*args, **kwargs)
    except Exception as exc:  # a reader must never raise on content; tests assert this never happens
        ctx.reject(source, None, f"unexpected error while reading ({type(exc).__name__}: {exc})")


# ---------------------------------------------------------------- writers


def check_line_text(item: Utterance, index: int, fmt: str, forbidden: str = "\n\r") -> None:
    """Raise ValueError if ``item.text`` cannot be written as one field of one line."""
    if not isinstance(item.text, str):
        raise ValueError(f"item {index} ({item.audio_path}): text must be a string, not {type(item.text).__name__}")
    problem = text_problem(item.text)
    if problem:
        raise ValueError(f"item {index} ({item.audio_path}): {problem}")
    for ch in forbidden:
        if ch in item.text:
            raise ValueError(f"item {index} ({item.audio_path}): the text holds {ch!r}, which {fmt} cannot hold")


def check_field(value: str | None, what: str, index: int, fmt: str, forbidden: str) -> None:
    """Raise ValueError if ``value`` contains a character of ``forbidden`` (a separator)."""
    if value is None:
        return
    problem = text_problem(value)
    if problem:
        raise ValueError(f"item {index}: the {what} {problem.removeprefix('the text ')}")
    for ch in forbidden:
        if ch in value:
            raise ValueError(f"item {index}: the {what} {show(value)!r} holds {ch!r}, which {fmt} cannot hold")


def item_span(item: Utterance, duration: float | None = None) -> tuple[float, float | None]:
    """``(start, end)`` of an item in seconds: start 0 for None, end ``duration`` (or None) for None."""
    start = 0.0 if item.start is None else round_time(item.start)
    end = duration if item.end is None else round_time(item.end)
    return start, end


def check_span(item: Utterance, index: int) -> None:
    """Raise ValueError for a negative or empty span."""
    start, end = item_span(item)
    if start < 0 or (end is not None and end <= start) or not math.isfinite(start) or (
            end is not None and not math.isfinite(end)):
        raise ValueError(f"item {index} ({item.audio_path}): bad span {item.start}–{item.end} s")


def duration_of(path: Path) -> float:
    """Duration in seconds from the header.

    Raises:
        AudioError: missing or unreadable file.
    """
    info = audio_info(path)
    if info.samplerate <= 0:
        raise AudioError(f"{path.name}: the file holds no audio.")
    return info.frames / info.samplerate


_ID_UNSAFE = re.compile(r"[^\w.\-]+")


def safe_id(text: str, fallback: str = "utt") -> str:
    """``text`` with runs of characters other than letters, digits, ``_.-`` replaced by ``_``
    (``fallback`` if nothing is left)."""
    return _ID_UNSAFE.sub("_", text).strip("_") or fallback


def unique(name: str, taken: set[str], sep: str = "-") -> str:
    """``name``, or ``name-2``, ``name-3``, … whichever is not in ``taken``; adds it to ``taken``."""
    out, k = name, 2
    while out in taken:
        out = f"{name}{sep}{k}"
        k += 1
    taken.add(out)
    return out


def unique_file(stem: str, suffix: str, taken: set[str]) -> str:
    """``stem + suffix``, or ``stem-2 + suffix``, … whichever is not in ``taken``; adds it to ``taken``."""
    name, k = stem + suffix, 2
    while name in taken:
        name = f"{stem}-{k}{suffix}"
        k += 1
    taken.add(name)
    return name


def stems_in(out: Path, groups: dict[Path, list]) -> dict[Path, tuple[str, bool]]:
    """For each audio file, the stem its label file gets in ``out`` and whether the audio is already there.

    Audio already in ``out`` keeps its stem; others get their stem made unique
    (``a``, ``a-2``, …) against those and each other.
    """
    inside = {a: same_file(a.parent, out) for a in groups}
    taken = {a.stem for a, here in inside.items() if here}
    return {a: (a.stem, True) if here else (unique_file(a.stem, "", taken), False) for a, here in inside.items()}


def same_file(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError):
        return False


def export_clip(item: Utterance, dest: Path, wav: bool = False) -> Path:
    """Put the audio of ``item`` at ``dest`` (atomically) and return ``dest``.

    A whole file is copied byte for byte (unless it is ``dest`` already); a
    segment, or any file when ``wav`` is set and the source is not WAV, is
    cut/converted with soundfile and written as WAV (the source's PCM subtype
    if WAV can hold it, else 16-bit PCM) at the source's sample rate.

    Raises:
        AudioError: the source is missing or unreadable.
        OSError: ``dest`` cannot be written.
    """
    src = Path(item.audio_path)
    if same_file(src, dest) and item.is_whole:
        return dest
    info = audio_info(src)
    convert = not item.is_whole or (wav and info.format != "WAV")
    if not convert:
        with open(src, "rb") as fin, atomic_write(dest, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        return dest
    start, end = item_span(item, info.frames / info.samplerate)
    first = int(round(start * info.samplerate))
    last = min(info.frames, int(round(end * info.samplerate)))
    try:
        data, rate = sf.read(str(src), start=first, stop=last, dtype="float64", always_2d=True)
    except Exception as exc:  # libsndfile errors
        raise AudioError(f"{src.name}: the audio data is corrupt ({exc}).") from None
    subtype = info.subtype if sf.check_format("WAV", info.subtype) else "PCM_16"
    with atomic_write(dest, "wb") as fh:
        sf.write(fh, data, rate, subtype=subtype, format="WAV")
    return dest


def group_by_audio(items: Iterable[Utterance]) -> dict[Path, list[tuple[int, Utterance]]]:
    """Items grouped by audio file (in first-seen order), each with its index in ``items``."""
    out: dict[Path, list[tuple[int, Utterance]]] = {}
    for i, it in enumerate(items):
        out.setdefault(Path(it.audio_path), []).append((i, it))
    return out
