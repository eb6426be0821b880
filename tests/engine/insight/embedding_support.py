"""A real project for the embedding tests: Speech Commands and FSDD clips with speakers, splits and statuses."""
from __future__ import annotations

from pathlib import Path

from engine.data.store import Project
from tests.helpers import shared_data

SC_WORDS = ("seven", "yes", "no", "left")
"""Speech Commands words in the test project."""


def real_project(folder: Path, per_word: int = 6, fsdd: int = 4) -> Project:
    """A project with ``per_word`` Speech Commands clips of each of :data:`SC_WORDS` and ``fsdd`` FSDD "seven"s.

    Speakers are the real ones (the clip name's prefix); every third
    utterance is in ``dev``, the rest in ``train``; FSDD takes are
    ``unlabeled`` drafts of "seven", the rest ``verified``. Skips the test
    when the shared data is absent.
    """
    data = shared_data()
    project = Project.create(folder)
    n = 0
    for word in SC_WORDS:
        for clip in sorted((data / "speech_commands" / word).glob("*.wav"))[:per_word]:
            rec = project.add_recording(clip, copy=False)
            project.add_utterance(rec.id, 0.0, rec.duration, word, status="verified",
                                  speaker=clip.name.split("_")[0], split="dev" if n % 3 == 2 else "train")
            n += 1
    for clip in sorted((data / "fsdd" / "recordings").glob("7_*.wav"))[:fsdd]:
        rec = project.add_recording(clip, copy=False)
        project.add_utterance(rec.id, 0.0, rec.duration, "seven", status="draft",
                              speaker=clip.name.split("_")[1], split="test")
    return project


def real_embeddings(folder: Path, per_word: int = 6, fsdd: int = 4):
    """``(project, items, ProjectEmbeddings)`` of :func:`real_project`, embedded in-process by the bundled model."""
    from engine.decode.recognizer import SaysoRecognizer
    from engine.insight.embedding import EmbeddingCache, cache_file, embed_items, model_hash, project_items
    from tests.helpers import bundled_model

    project = real_project(folder, per_word, fsdd)
    items = project_items(project)
    model = model_hash(bundled_model())
    emb = embed_items(SaysoRecognizer.from_checkpoint(bundled_model()), items,
                      EmbeddingCache.load(cache_file(project.folder, model), model))
    return project, items, emb
