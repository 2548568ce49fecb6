"""Notifier adapters: SMTP (standard library) and a log for the demo."""
