"""The one exception type of the project store."""


class ProjectError(Exception):
    """A project cannot be opened, read or changed, with a message a user understands.

    Raised for: a folder that is not a Sayso project (or already is one, on
    create), a project file written by a newer Sayso, a corrupt or locked
    database, unreadable audio (the :class:`engine.audio.errors.AudioError`
    message), an utterance or recording that does not exist, and edits that
    break a rule of the store (times, status, split, confidence, ...). The
    message says what is wrong and, where it helps, what to do; it never
    contains a traceback or SQL.
    """
