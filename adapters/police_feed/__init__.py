"""The police feed file: CSV or JSON lines, in v1 columns or a force's own through a mapping
file (DESIGN 10)."""
