"""A real capture device for tests: the PulseAudio virtual microphone.

``scripts/virtual_mic.sh start`` runs a private PulseAudio daemon whose
default source ``sayso_mic`` plays whatever is written to a FIFO (s16le,
16 kHz, mono). PortAudio reaches it through the ALSA ``pulse``/``default``
devices of libasound2-plugins, so a :class:`engine.audio.capture.Recorder`
records it exactly as it would a USB microphone.

The pipe source only produces audio while something writes to the FIFO; with
no writer a recording stream simply receives nothing (and ``Pa_StopStream``
would wait forever). A real microphone always delivers samples, so the
``virtual_mic`` fixture keeps a writer feeding silence in real time and
splices clips into it (:meth:`VirtualMic.play`, or :func:`feed_fifo`, which
uses that writer when one is running for the FIFO).

Environment (set by the fixture for this process if missing; the Makefile
sets the same): ``PULSE_SERVER=unix:$SAYSO_PULSE_DIR/native``,
``PULSE_COOKIE=$SAYSO_PULSE_DIR/cookie``, ``SAYSO_PULSE_DIR`` (default
``/tmp/sayso-pulse``).
"""
from __future__ import annotations

import collections
import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "virtual_mic.sh"
FIFO_RATE = 16_000
"""Sample rate of the FIFO in Hz (s16le, mono)."""
CHUNK = 320
"""Samples per write: 20 ms at 16 kHz."""
PIPE_BYTES = 8192
"""FIFO capacity asked for (F_SETPIPE_SZ): 256 ms of audio."""


def pulse_dir() -> Path:
    """The shared daemon's directory: ``$SAYSO_PULSE_DIR``, default ``/tmp/sayso-pulse``."""
    return Path(os.environ.get("SAYSO_PULSE_DIR", "/tmp/sayso-pulse"))


def pulse_env(d: Path | None = None) -> dict[str, str]:
    """Variables a client process needs to reach the virtual-mic daemon in ``d``."""
    d = pulse_dir() if d is None else d
    return {
        "SAYSO_PULSE_DIR": str(d),
        "PULSE_SERVER": f"unix:{d / 'native'}",
        "PULSE_COOKIE": str(d / "cookie"),
    }


def load_clip(src) -> np.ndarray:
    """A clip as int16 samples at 16 kHz.

    Args:
        src: a path to a 16 kHz mono audio file, an int16 array, or a float
            array in [-1, 1] (16 kHz).

    Raises:
        ValueError: the file is not 16 kHz mono.
    """
    if isinstance(src, (str, os.PathLike)):
        import soundfile as sf

        data, rate = sf.read(str(src), dtype="int16", always_2d=True)
        if rate != FIFO_RATE or data.shape[1] != 1:
            raise ValueError(f"{src}: need 16 kHz mono, got {rate} Hz x {data.shape[1]}")
        return np.ascontiguousarray(data[:, 0])
    arr = np.asarray(src)
    if arr.dtype == np.int16:
        return np.ascontiguousarray(arr.reshape(-1))
    x = np.clip(np.round(arr.astype(np.float64).reshape(-1) * 32768.0), -32768, 32767)
    return x.astype(np.int16)


class Playback:
    """A clip queued on a feeder: ``done`` is set once its last sample (and the
    trailing silence) went into the FIFO."""

    def __init__(self, samples: int):
        self.samples = samples
        self.started = threading.Event()
        self.done = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    join = wait


class FifoFeeder(threading.Thread):
    """Writes int16 audio to the FIFO in 20 ms chunks, paced in real time.

    With ``keep_alive`` it writes silence whenever no clip is queued, and runs
    until :meth:`close`; if the daemon goes away it drops audio (as a mic with
    no host would) and reconnects when the FIFO has a reader again. Without
    ``keep_alive`` it stops after the queue is empty.
    """

    def __init__(self, fifo: str | os.PathLike, keep_alive: bool, realtime: bool = True):
        super().__init__(name=f"fifo-feeder:{fifo}", daemon=True)
        self.fifo = str(fifo)
        self.keep_alive = keep_alive
        self.realtime = realtime
        self._queue: collections.deque = collections.deque()  # (int16 array, Playback)
        self._pos = 0
        self._cv = threading.Condition()
        self._closed = False
        self._paused = False
        self._fd: int | None = None
        self.connected = threading.Event()
        self.written = 0  # samples written to the FIFO
        self.error: str | None = None

    # -- control
    def enqueue(self, samples: np.ndarray, playback: Playback) -> None:
        with self._cv:
            self._queue.append((samples, playback))
            self._cv.notify_all()

    def pause(self, paused: bool = True) -> None:
        """Stop writing altogether (the source then delivers nothing: a stalled device)."""
        self._paused = paused

    def close(self, timeout: float = 5.0) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self.join(timeout)

    # -- thread
    def _open(self) -> bool:
        try:
            fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader (daemon down); ENOENT: no FIFO yet
            return False
        try:  # hold little stale audio while nobody records (the source reads only then)
            import fcntl

            fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
        except OSError:
            pass
        self._fd = fd
        self.connected.set()
        return True

    def _drop_fd(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self._fd = None
        self.connected.clear()

    def _playing(self) -> bool:
        with self._cv:
            return bool(self._queue)

    def _write(self, chunk: np.ndarray, is_clip: bool) -> None:
        """Write one chunk (the fd is non-blocking; a chunk is < PIPE_BUF, so all or nothing).

        The source reads the FIFO only while something records: then the pipe
        fills. Silence is dropped when it does (a microphone nobody listens
        to); clip audio waits for room, so a clip is never cut.
        """
        import select

        data = chunk.tobytes()
        while True:
            try:
                os.write(self._fd, data)
                self.written += len(chunk)
                return
            except BlockingIOError:
                if not is_clip or self._closed:
                    return
                select.select([], [self._fd], [], 0.1)
            except OSError as exc:  # EPIPE: the daemon died
                if exc.errno not in (errno.EPIPE, errno.EBADF):
                    raise
                self._drop_fd()
                return

    def _next_chunk(self) -> tuple[np.ndarray | None, list[Playback]]:
        """Next CHUNK samples (clips, then silence); None when done (not keep_alive)."""
        finished = []
        with self._cv:
            if not self._queue and not self.keep_alive:
                return None, finished
            out = np.zeros(CHUNK, dtype=np.int16)
            filled = 0
            while filled < CHUNK and self._queue:
                clip, pb = self._queue[0]
                if self._pos == 0:
                    pb.started.set()
                n = min(CHUNK - filled, len(clip) - self._pos)
                out[filled:filled + n] = clip[self._pos:self._pos + n]
                filled += n
                self._pos += n
                if self._pos >= len(clip):
                    self._queue.popleft()
                    self._pos = 0
                    finished.append(pb)
            return out, finished

    def run(self) -> None:
        try:
            if not self.keep_alive:  # one-shot: wait for the reader rather than drop the clip
                deadline = time.monotonic() + 10.0
                while not self._open():
                    if self._closed or time.monotonic() > deadline:
                        raise RuntimeError(f"no reader on {self.fifo} (is the daemon running?)")
                    time.sleep(0.02)
            self._loop()
        except Exception as exc:  # reported to the test through .error
            self.error = repr(exc)
        finally:
            self._drop_fd()
            with self._cv:
                for _, pb in self._queue:
                    pb.done.set()

    def _loop(self) -> None:
        t0 = time.monotonic()
        ticks = 0
        while not self._closed:
            if self._paused:
                time.sleep(0.02)
                t0, ticks = time.monotonic(), 0
                continue
            chunk, finished = self._next_chunk()
            if chunk is None:
                break
            if self._fd is None and self.keep_alive:
                self._open()
            if self._fd is not None:
                self._write(chunk, is_clip=bool(finished) or self._playing())
            for pb in finished:
                pb.done.set()
            ticks += 1
            if self.realtime:
                delay = t0 + ticks * CHUNK / FIFO_RATE - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -0.5:  # badly late (loaded machine): don't burst to catch up
                    t0, ticks = time.monotonic(), 0


_KEEPALIVE: dict[str, FifoFeeder] = {}


def _with_silence(clip: np.ndarray, lead_seconds: float, tail_seconds: float) -> np.ndarray:
    lead = np.zeros(int(round(lead_seconds * FIFO_RATE)), dtype=np.int16)
    tail = np.zeros(int(round(tail_seconds * FIFO_RATE)), dtype=np.int16)
    return np.concatenate([lead, clip, tail])


def feed_fifo(wav_path_or_array, fifo: str | os.PathLike, realtime: bool = True,
              lead_seconds: float = 0.5, tail_seconds: float = 0.5) -> Playback:
    """Play a clip into the virtual microphone's FIFO from a background thread.

    Writes s16le 16 kHz mono in 20 ms chunks (paced in real time unless
    ``realtime`` is False), with ``lead_seconds`` of silence before and
    ``tail_seconds`` after. If a keep-alive feeder (the ``virtual_mic``
    fixture's) runs for this FIFO, the clip is spliced into its stream;
    otherwise a one-shot writer thread is started.

    Returns:
        A :class:`Playback`; ``wait()`` blocks until the clip and its trailing
        silence are written.
    """
    clip = _with_silence(load_clip(wav_path_or_array), lead_seconds, tail_seconds)
    pb = Playback(len(clip))
    feeder = _KEEPALIVE.get(str(fifo))
    if feeder is not None and feeder.is_alive():
        feeder.enqueue(clip, pb)
        return pb
    feeder = FifoFeeder(fifo, keep_alive=False, realtime=realtime)
    feeder.enqueue(clip, pb)
    feeder.start()
    return pb


# ---------------------------------------------------------------- the daemon

def run_script(action: str, d: Path | None = None, timeout: float = 30.0) -> subprocess.CompletedProcess:
    """Run ``scripts/virtual_mic.sh ACTION`` for the daemon in ``d`` (default :func:`pulse_dir`)."""
    env = dict(os.environ)
    env.update(pulse_env(d))
    return subprocess.run(["bash", str(SCRIPT), action], env=env, capture_output=True,
                          text=True, timeout=timeout)


def daemon_pid(d: Path | None = None) -> int | None:
    """PID of the virtual-mic daemon running in ``d``, or None."""
    d = pulse_dir() if d is None else d
    if run_script("status", d).returncode != 0:
        return None
    try:
        return int((d / "pulseaudio.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def pulse_alsa_plugin_installed() -> bool:
    return any(Path(d).glob("libasound_module_pcm_pulse.so") for d in (
        "/usr/lib/x86_64-linux-gnu/alsa-lib", "/usr/lib/aarch64-linux-gnu/alsa-lib",
        "/usr/lib/alsa-lib", "/usr/lib64/alsa-lib"))


def _find_pulse_device(sd) -> tuple[int, str] | None:
    for dev in sd.query_devices():
        if dev["name"] == "pulse" and dev["max_input_channels"] > 0:
            return int(dev["index"]), str(dev["name"])
    return None


def _lock(d: Path) -> int | None:
    """Take ``d/feeder.lock`` (held until the process exits or :func:`stop_virtual_mic`);
    None if another process holds it."""
    import fcntl

    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(d / "feeder.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


@dataclass
class VirtualMic:
    """The running virtual microphone, as the fixture hands it to tests.

    Attributes:
        device: PortAudio index of the ALSA ``pulse`` device (records ``sayso_mic``).
        device_name: ``"pulse"``.
        fifo: path of the FIFO the daemon reads.
        server: the PULSE_SERVER string.
        dir: the daemon's directory (the shared one, or a private one when
            another process was already feeding the shared microphone).
    """

    device: int
    device_name: str
    fifo: Path
    server: str
    dir: Path
    feeder: FifoFeeder = field(repr=False)
    started_here: bool = False
    private: bool = False
    lock_fd: int | None = field(default=None, repr=False)

    def play(self, src, lead_seconds: float = 0.5, tail_seconds: float = 0.5) -> Playback:
        """Speak a clip (path or array at 16 kHz) into the microphone, with silence around it."""
        return feed_fifo(src, self.fifo, lead_seconds=lead_seconds, tail_seconds=tail_seconds)

    def pause(self, paused: bool = True) -> None:
        """Stop (or resume) feeding the FIFO: the source then delivers no audio at all."""
        self.feeder.pause(paused)

    @property
    def pid(self) -> int | None:
        return daemon_pid(self.dir)

    def kill_daemon(self, sig: int = signal.SIGKILL) -> None:
        """Kill the PulseAudio daemon (the "unplugged" microphone)."""
        pid = daemon_pid(self.dir)
        if pid is not None:
            os.kill(pid, sig)

    def ensure_running(self, timeout: float = 10.0) -> None:
        """Start the daemon if it is not running and wait until the feeder writes to it."""
        if daemon_pid(self.dir) is None:
            r = run_script("start", self.dir)
            if r.returncode != 0:
                raise RuntimeError(f"virtual_mic.sh start failed:\n{r.stdout}{r.stderr}")
        if not self.feeder.connected.wait(timeout):
            raise RuntimeError("the FIFO feeder did not reconnect to the restarted daemon")


def start_virtual_mic() -> VirtualMic:
    """Start the virtual microphone for this process, with a silence feeder.

    Uses the shared daemon in :func:`pulse_dir` (starting it if needed) unless
    another process already feeds it (two writers would interleave their
    audio): then a private daemon in ``<shared dir>-<pid>`` is started. Sets
    PULSE_SERVER/PULSE_COOKIE in ``os.environ`` for PortAudio in this process.

    Raises:
        RuntimeError: the daemon did not start, or PortAudio does not see the
            ``pulse`` device.
    """
    d = pulse_dir()
    lock_fd = _lock(d)
    private = lock_fd is None
    if private:
        d = Path(f"{d}-{os.getpid()}")
        lock_fd = _lock(d)
    os.environ.update(pulse_env(d))
    started_here = False
    if daemon_pid(d) is None:
        r = run_script("start", d)
        if r.returncode != 0:
            os.close(lock_fd)
            raise RuntimeError(f"scripts/virtual_mic.sh start failed:\n{r.stdout}{r.stderr}")
        started_here = True
    fifo = d / "sayso_mic.fifo"
    feeder = _KEEPALIVE.get(str(fifo))
    if feeder is None or not feeder.is_alive():
        feeder = FifoFeeder(fifo, keep_alive=True)
        _KEEPALIVE[str(fifo)] = feeder
        feeder.start()
    mic = VirtualMic(device=-1, device_name="", fifo=fifo, server=os.environ["PULSE_SERVER"],
                     dir=d, feeder=feeder, started_here=started_here, private=private,
                     lock_fd=lock_fd)
    try:
        if not feeder.connected.wait(10):
            raise RuntimeError(f"could not open {fifo} for writing")
        already = "sounddevice" in sys.modules
        import sounddevice as sd

        found = _find_pulse_device(sd)
        if found is None and already:
            # PortAudio enumerated devices before the daemon ran: enumerate again.
            sd._terminate()
            sd._initialize()
            found = _find_pulse_device(sd)
        if found is None:
            raise RuntimeError(
                "PortAudio lists no 'pulse' input device although the daemon runs "
                f"(PULSE_SERVER={mic.server}); is libasound2-plugins installed?")
    except BaseException:
        stop_virtual_mic(mic)
        raise
    mic.device, mic.device_name = found
    return mic


def stop_virtual_mic(mic: VirtualMic) -> None:
    """Stop the feeder, the daemon if :func:`start_virtual_mic` started it, and release the lock."""
    mic.feeder.close()
    _KEEPALIVE.pop(str(mic.fifo), None)
    if mic.started_here:
        run_script("stop", mic.dir)
        if mic.private:  # remove the private daemon's directory
            shutil.rmtree(mic.dir, ignore_errors=True)
    if mic.lock_fd is not None:
        os.close(mic.lock_fd)
        mic.lock_fd = None


def pulseaudio_missing_reason() -> str | None:
    """Why the virtual mic cannot run here, or None if it can."""
    if shutil.which("pulseaudio") is None:
        return ("pulseaudio is not installed (apt-get install pulseaudio pulseaudio-utils "
                "libasound2-plugins); the virtual microphone cannot run")
    if shutil.which("pactl") is None:
        return "pactl is not installed (apt-get install pulseaudio-utils)"
    if not pulse_alsa_plugin_installed():
        return ("the ALSA pulse plugin is not installed (apt-get install libasound2-plugins); "
                "PortAudio cannot reach the virtual microphone")
    return None


def drain_playback(mic: VirtualMic, playback: Playback, timeout: float = 15.0) -> bool:
    """Record (and discard) until ``playback`` has gone through the microphone.

    The pipe source reads its FIFO only while something records, so the rest
    of a clip whose recorder stopped (or was killed) early would otherwise
    wait in the FIFO and leak into the next test's recording.

    Returns:
        True if the clip finished playing within ``timeout`` seconds.
    """
    if playback.done.is_set():
        return True
    from engine.audio.capture import Recorder

    rec = Recorder(device=mic.device, device_rate=FIFO_RATE)
    rec.start()
    try:
        done = playback.wait(timeout)
        time.sleep(0.3)  # what the daemon and PortAudio still buffer
    finally:
        rec.stop()
    return done
