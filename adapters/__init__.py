"""Outside systems (police feed import, notifications, information sharing).

Each adapter implements a Protocol declared in `triage/` and is wired in only by
`triage/app.py`; nothing here is imported by the domain.
"""
