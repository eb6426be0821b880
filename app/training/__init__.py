"""Training in the studio: background training, fine-tuning, personalization and evaluation jobs (engine.jobs)."""
