"""Looking inside the model: embeddings, similarity, label QA (headless)."""
