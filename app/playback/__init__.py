"""Playing takes and segments inside the studio, with a moving playhead."""
