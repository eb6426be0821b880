"""The one exception type for audio a user hands us."""


class AudioError(ValueError):
    """Audio that cannot be used, with a message a user understands.

    Raised for unreadable or corrupt files, empty audio, clips shorter than
    :data:`engine.audio.io.MIN_SECONDS`, files longer than
    :data:`engine.audio.io.MAX_SECONDS`, and missing files. The message names
    the file and says what to do; it never contains a traceback.
    """
