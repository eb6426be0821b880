"""Live recognition views."""
