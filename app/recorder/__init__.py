"""Recording from the microphone inside the studio."""
