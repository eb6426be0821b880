"""Long-lived worker processes: one process client (:mod:`.process`), the child's side (:mod:`.child`),
the recognition worker (:mod:`.recognition`) and the embedding worker (:mod:`.embedding`).

Queued, resumable work (training and evaluation jobs) lives in :mod:`engine.jobs`.
"""
