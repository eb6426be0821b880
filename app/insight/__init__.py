"""The Insight tab: where the model listened (attention, alignment) and the shared audio–text embedding space."""
