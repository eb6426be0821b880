"""The open project: file-menu commands and background tasks."""
