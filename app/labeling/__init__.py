"""Labeling studio widgets: recording and labeling utterances of a project (engine.data.store)."""
