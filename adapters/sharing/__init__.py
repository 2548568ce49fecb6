"""The sharing export's writers: JSON lines, one record a line (issue 16)."""
