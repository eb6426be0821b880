"""The parts of the studio's main window (:class:`app.main_window.MainWindow` composes them).

- :mod:`~app.window.commands`: the studio commands as QActions, the menus and the toolbar;
- :mod:`~app.window.audio_files`: opening, saving and dropping audio files;
- :mod:`~app.window.recording`: the recorder and the live transcription wired to the views;
- :mod:`~app.window.transcription`: transcribing the shown clip with the active recognizer;
- :mod:`~app.window.model_switch`: following and switching the active model.
"""
