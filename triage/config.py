"""Settings, read from the environment (prefix TRIAGE_) by pydantic-settings."""

from datetime import time
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_", extra="ignore")

    database_url: str = f"sqlite:///{PROJECT_ROOT / 'triage.db'}"
    # Reports read only rollups, so they may be served from a read replica (DESIGN 8); unset,
    # they read the main database and fold pending changes first.
    reports_database_url: str | None = None
    # Rule data: the area's rule set under routing_rules/ (DESIGN 7).
    rules_dir: Path = PROJECT_ROOT / "routing_rules"
    rule_set: str = "derbyshire"
    token_hours: float = 8.0
    # How long a server remembers the caller of a bearer token (ADR 21): a token revoked
    # or a user disabled elsewhere (another server, the command line) is refused within this
    # long; at once by the server that revoked it. 0: every request looks its token up.
    token_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    # A signed-in page session ends after this long without a request (DESIGN 9).
    session_idle_hours: float = 8.0
    # Sign-in throttling (DESIGN 12): this many failures in the window for a username, or
    # (higher: a whole unit may sit behind one address) from an address, and sign-in answers
    # 429 until the window has passed, each refusal held this long before it is answered (a
    # client ignoring Retry-After sends a few a second, not hundreds); and how many password
    # checks (argon2, about 0.15 s of one core each) one process runs at once
    # (benchmarks/README.md, sign-in throttling).
    sign_in_failures: int = 5
    sign_in_address_failures: int = 20
    sign_in_window_minutes: float = 15.0
    sign_in_refusal_hold_seconds: float = 1.0
    password_checks: int = 1
    # After each check, its slot rests this many times as long as the check took: a flood of
    # sign-ins takes at most 1 / (1 + rest) of a core per check slot from the people working.
    password_check_rest: float = 1.5
    # Police feed uploads (POST /api/imports/police-feed): kept here while their job runs
    # (deleted when it ends), at most this large.
    imports_dir: Path = PROJECT_ROOT / "var" / "imports"
    import_max_mb: int = 512
    # `triage import police-feed`: processes that validate and work out batches while the
    # command stores the one before (0: all in the command's own process).
    import_workers: int = 1
    # `close` with `uncontactable` needs this many attempts, on at least two days.
    min_contact_attempts: int = 3
    # How long a provider has to answer an offer when its directory entry does not say.
    respond_by_hours: int = 72
    timezone: str = "Europe/London"
    # A Victims' Code clock started at or after this local time starts the next working day.
    vcop_cutoff: time = time(17, 0)
    # Deadline sweeps (DESIGN 6): off for a replica that only serves HTTP.
    scheduler: bool = True
    sweep_seconds: float = 60.0
    # How often the retention job anonymises referrals past their period (first run at start).
    retention_hours: float = 24.0
    # A right due within this many hours raises a `vcop_due_soon` alert.
    vcop_warning_hours: float = 24.0
    # No contact attempt for this long raises `contact_overdue`; still uncontacted this long
    # after it was received, the referral is escalated to the team lead.
    contact_standard_hours: float = 24.0
    contact_escalation_hours: float = 72.0
    # Hate crime spikes: the window, how many earlier windows make the baseline, the test.
    spike_window_hours: float = 168.0
    spike_baseline_windows: int = 8
    spike_p_value: float = 0.01
    spike_min_count: int = 5
    hate_crime_spoc_address: str = "hate-crime-spoc@localhost"
    # Notifications: "log" (the demo), "smtp" or "notify"; where unit alerts go; links in
    # messages.
    notifier: str = "log"
    unit_notify_address: str = "triage-unit@localhost"
    public_base_url: str = "http://127.0.0.1:8000"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_sender: str = "triage@localhost"
    smtp_domain: str = "localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    # GOV.UK Notify (docs/operations.md): the service's API key, and the email and SMS
    # templates, each with the personalisation fields ((subject)) and ((body)).
    notify_api_key: str | None = None
    notify_email_template_id: str | None = None
    notify_sms_template_id: str | None = None
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_timeout_seconds: float = 10.0
    # The pages' front-end packages (npm ci) and built stylesheet (make assets).
    node_modules: Path = PROJECT_ROOT / "node_modules"
    # Threads that run intake requests at once in one process (see triage/referrals/api.py).
    intake_threads: int = 4
    # At least the concurrency one process serves, so connections are not opened per burst.
    db_pool_size: int = 20
    db_max_overflow: int = 10


@lru_cache
def get_settings() -> Settings:
    return Settings()
