"""Notifier adapters: SMTP (standard library), GOV.UK Notify, and a log for the demo."""
