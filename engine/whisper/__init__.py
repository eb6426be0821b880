"""Pretrained Whisper (OpenAI, MIT licence) through faster-whisper / CTranslate2: the general English recognizer.

- :mod:`engine.whisper.folder`: what a CTranslate2 Whisper folder holds, and checking one;
- :mod:`engine.whisper.sources`: models from installed offline packages, the
  Hugging Face cache (read-only) and any folder, assembled into the user's models folder;
- :mod:`engine.whisper.download`: pulling a model from the model hub (progress, cancel, resume, checksum);
- :mod:`engine.whisper.recognizer`: :class:`~engine.whisper.recognizer.WhisperRecognizer`,
  the :class:`engine.decode.protocol.Recognizer` of this family;
- :mod:`engine.whisper.stream`: live sessions: partials (LocalAgreement-2) and finals decoded whole at
  each endpoint;
- :mod:`engine.whisper.torch_weights`: the same weights in torch (``transformers``), reversed from a
  CTranslate2 folder or loaded from a Hugging Face folder (safetensors); :mod:`engine.whisper.torch_parity`
  proves a conversion against CTranslate2; :mod:`engine.whisper.torch_model` loads one for Insight
  (feature extractor, tokens, decoder cross-attention).

Nothing here imports Qt; faster-whisper is imported only by the recognizer (and the parity check), torch and
``transformers`` only by the ``torch_*`` modules.
"""
