"""The transcript side of the studio: result display and vocabulary."""
