"""The Models window: the registry of trained models."""
