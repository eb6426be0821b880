"""PortAudio devices for :mod:`engine.audio.capture` and :mod:`engine.audio.playback`.

One :class:`Direction` per side says which channels count (``"input"`` or
``"output"``), which exception to raise and how to name the device to users;
the functions here then import sounddevice lazily, list the devices, find the
one asked for, and close streams, the same way for microphones and speakers.

PortAudio enumerates devices once per process, when ``sounddevice`` is first
imported; nothing here imports it before a function is called, so importing
this module touches no audio hardware.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

__all__ = [
    "Device", "Direction", "close_stream", "default_index", "import_sounddevice", "list_devices",
    "rescan_devices", "resolve_device",
]

D = TypeVar("D")


@dataclass
class Device:
    """What every PortAudio device has. :class:`~engine.audio.capture.InputDevice`
    and :class:`~engine.audio.playback.OutputDevice` add their channel count and
    ``is_default``.

    Attributes:
        index: PortAudio device index.
        name: device name, e.g. ``"pulse"`` or ``"USB Audio: - (hw:1,0)"``.
        default_samplerate: the device's preferred rate in Hz.
    """

    index: int
    name: str
    default_samplerate: float


@dataclass(frozen=True)
class Direction:
    """One side of the sound card, with the words its messages use.

    Attributes:
        kind: ``"input"`` or ``"output"``: the channels counted
            (``max_<kind>_channels``) and PortAudio's ``kind`` for the default device.
        error: the exception raised for failures a user can act on.
        no_device: the message when no such device exists at all.
        device: what one device is called in messages, e.g. ``"microphone"``.
        default_device: what the default device is called, e.g. ``"microphone"``.
        devices: the plural, e.g. ``"microphones"``.
    """

    kind: Literal["input", "output"]
    error: type[Exception]
    no_device: str
    device: str
    default_device: str
    devices: str

    @property
    def channels_key(self) -> str:
        """The device field with the number of channels, e.g. ``"max_input_channels"``."""
        return f"max_{self.kind}_channels"


def import_sounddevice(direction: Direction):
    """Import sounddevice, or raise ``direction.error`` if PortAudio cannot start.

    Raises:
        direction.error: no libportaudio, or Pa_Initialize failed; the message is
            ``direction.no_device`` plus the reason, without a traceback.
    """
    try:
        import sounddevice as sd
    except Exception as exc:  # OSError: no libportaudio; PortAudioError: Pa_Initialize failed
        raise direction.error(
            f"{direction.no_device} (The audio system could not be started: {exc}.)"
        ) from None
    return sd


def default_index(sd, kind: str) -> int | None:
    """PortAudio index of the system's default ``kind`` device; None if there is none."""
    try:
        return int(sd.query_devices(kind=kind)["index"])
    except Exception:
        return None


def list_devices(direction: Direction, make: Callable[..., D],
                 load: Callable[[], Any] | None = None) -> list[D]:
    """All devices with at least one ``direction.kind`` channel, in PortAudio's order.

    Args:
        direction: which channels count.
        make: builds one entry from the keywords ``index``, ``name``,
            ``default_samplerate`` (Hz), ``max_<kind>_channels`` and ``is_default``.
        load: returns the sounddevice module; None for :func:`import_sounddevice`.

    Returns:
        The devices; ``[]`` when PortAudio finds none or cannot start. Never
        raises for "no devices".
    """
    try:
        sd = load() if load is not None else import_sounddevice(direction)
        devices = sd.query_devices()
    except Exception:
        return []
    default = default_index(sd, direction.kind)
    key = direction.channels_key
    return [
        make(
            index=int(dev["index"]),
            name=str(dev["name"]),
            default_samplerate=float(dev["default_samplerate"]),
            **{key: int(dev[key])},
            is_default=int(dev["index"]) == default,
        )
        for dev in devices
        if int(dev[key]) >= 1
    ]


def rescan_devices() -> bool:
    """Make PortAudio enumerate the devices afresh (after a microphone was plugged in).

    PortAudio lists devices once, when it starts; sounddevice has no public
    call to restart it, so this terminates and re-initializes it through
    sounddevice's module-level helpers. Call it only while no stream is open.
    If sounddevice was never imported, nothing is enumerated yet and nothing
    is done.

    Returns:
        True if PortAudio was restarted; False if sounddevice is not loaded,
        lacks the helpers (another version) or the restart failed.
    """
    sd = sys.modules.get("sounddevice")
    terminate, initialize = getattr(sd, "_terminate", None), getattr(sd, "_initialize", None)
    if terminate is None or initialize is None:
        return False
    try:
        terminate()
        initialize()
    except Exception:
        return False
    return True


def resolve_device(sd, direction: Direction, device: int | str | None,
                   listed: Callable[[], list]) -> dict:
    """PortAudio's info dict of ``device`` (index, unique name substring, or None
    for the system default).

    Args:
        listed: the devices of this direction (objects with ``.name``), named
            in the message when ``device`` is not found.

    Raises:
        direction.error: no device of this direction exists
            (``direction.no_device``), no default is set, or ``device`` was not
            found; the message names the available devices.
    """
    try:
        devices = sd.query_devices()
    except Exception:
        devices = []
    key = direction.channels_key
    if not any(int(d[key]) > 0 for d in devices):
        raise direction.error(direction.no_device)
    try:
        if device is None:
            return sd.query_devices(kind=direction.kind)
        return sd.query_devices(device, kind=direction.kind)
    except Exception as exc:
        names = ", ".join(f"'{d.name}'" for d in listed())
        if device is None:
            raise direction.error(
                f"No default {direction.default_device} is set. "
                f"Available {direction.devices}: {names}."
            ) from None
        raise direction.error(
            f"The {direction.device} {device!r} was not found ({exc}). "
            f"Available {direction.devices}: {names}."
        ) from None


def close_stream(stream, abort: bool = True) -> None:
    """Abort (if ``abort``) and close a PortAudio stream, ignoring errors; None is a no-op.

    Abort, not stop: Pa_StopStream waits for the callback thread (and, for
    output, for the buffers to play out) and hangs on a device that stalled.
    """
    if stream is None:
        return
    if abort:
        try:
            stream.abort()
        except Exception:
            pass
    try:
        stream.close()
    except Exception:
        pass
