"""The `triage` command line (Typer). Every command reads TRIAGE_DATABASE_URL."""

import difflib
import getpass
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer
from alembic.util import CommandError
from sqlalchemy.orm import Session, sessionmaker

from triage.auth import service as auth_service
from triage.caller import Caller
from triage.config import get_settings
from triage.db import session_factory_for, transaction
from triage.errors import InvalidInput, NotFound
from triage.imports import cli as import_cli
from triage.lifecycle.codes import Role
from triage.migrations import upgrade
from triage.providers import directory_file
from triage.providers import service as provider_service
from triage.providers.directory_import import describe, plan_import
from triage.providers.listing import DirectoryUnreadable
from triage.referrals import privacy
from triage.reports.cli import report_app
from triage.routing.check import CheckReport
from triage.rule_sources import RulePaths, RulesError, RuleSources, check_rule_set, load_directory
from triage.sharing.cli import export_app
from triage.sharing.partners import PARTNERS_FILE, load_partners

app = typer.Typer(help="Victim referral triage and routing service.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Users and roles.", no_args_is_help=True)
rules_app = typer.Typer(help="Routing rules and the provider directory.", no_args_is_help=True)
providers_app = typer.Typer(
    help="The provider directory's file: imports from a published directory.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(rules_app, name="rules")
app.add_typer(providers_app, name="providers")
app.add_typer(report_app, name="report")
app.add_typer(export_app, name="export")
import_app = typer.Typer(help="Referrals in bulk: the police feed.", no_args_is_help=True)
app.add_typer(import_app, name="import")
retention_app = typer.Typer(
    help="Retention: anonymise referrals past their period (routing_rules/retention.toml).",
    no_args_is_help=True,
)
app.add_typer(retention_app, name="retention")


class PersonRole(StrEnum):
    """The roles a person may hold: Role without `system` (the service itself)."""

    triage = Role.triage.value
    provider = Role.provider.value
    commissioner = Role.commissioner.value
    admin = Role.admin.value
    intake = Role.intake.value


DEMO_USERS = [
    ("demo-triage", Role.triage, None),
    ("demo-provider", Role.provider, "core-general"),
    ("demo-commissioner", Role.commissioner, None),
    ("demo-admin", Role.admin, None),
    ("demo-intake", Role.intake, None),
]


def _session_factory() -> sessionmaker[Session]:
    return session_factory_for(get_settings().database_url)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
) -> None:
    """Serve the API (one process; run more behind a load balancer to scale)."""
    import uvicorn

    from triage.app import create_app
    from triage.logs import uvicorn_log_config

    uvicorn.run(create_app(get_settings()), host=host, port=port, log_level="info",
                log_config=uvicorn_log_config())  # fmt: skip


@app.command()
def worker() -> None:
    """Run the deadline sweeps alone, without serving HTTP (next to TRIAGE_SCHEDULER=false)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from triage.app import make_notifier
    from triage.deadlines.scheduler import add_sweep_job
    from triage.deps import system_clock

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    scheduler = BlockingScheduler(timezone="UTC")
    add_sweep_job(
        scheduler,
        factory=_session_factory(),
        rules=RuleSources.from_settings(settings),
        settings=settings,
        clock=system_clock,
        notifier=make_notifier(settings),
    )
    typer.echo(f"sweeping every {settings.sweep_seconds:g} s; Ctrl-C stops")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply the Alembic migrations up to REVISION (default: the latest)."""
    try:
        upgrade(get_settings().database_url, revision)
    except CommandError:
        raise typer.BadParameter(
            f"unknown revision {revision!r}: use head, or a revision id such as 0001",
            param_hint="REVISION",
        ) from None
    typer.echo(f"database at {revision}")


@user_app.command("add")
def user_add(
    name: str,
    role: PersonRole = typer.Option(..., "--role", help="what the user may do"),
    provider: str | None = typer.Option(None, "--provider", help="provider code (provider role)"),
) -> None:
    """Add a user; the password comes from TRIAGE_PASSWORD or a prompt."""
    password = os.environ.get("TRIAGE_PASSWORD") or getpass.getpass(f"password for {name}: ")
    try:
        with transaction(_session_factory()) as session:
            auth_service.add_user(
                session,
                username=name,
                password=password,
                role=Role(role),
                provider_code=provider,
                now=datetime.now(UTC),
            )
    except InvalidInput as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"added {role.value} user {name}")


@user_app.command("list")
def user_list() -> None:
    """Every user: name, role, provider, and whether they may sign in."""
    with transaction(_session_factory()) as session:
        users = auth_service.list_users(session)
        lines = [
            f"{user.username:<24} {user.role:<13} {code or '-':<20} "
            f"{'active' if user.active else 'disabled'}"
            for user, code in users
        ]
    typer.echo(f"{'username':<24} {'role':<13} {'provider':<20} state")
    typer.echo("\n".join(lines))


@user_app.command("reset-password")
def user_reset_password(name: str) -> None:
    """Give a user a new password (from TRIAGE_PASSWORD or a prompt); their tokens and page
    sessions end."""
    password = os.environ.get("TRIAGE_PASSWORD") or getpass.getpass(f"new password for {name}: ")
    _change_user(
        lambda session, caller, now: auth_service.reset_password(
            session, caller=caller, username=name, password=password, now=now
        ),
        f"password of {name} reset; their tokens and sessions have ended",
    )


@user_app.command("disable")
def user_disable(name: str) -> None:
    """Stop a user signing in; their tokens and page sessions stop working at once."""
    _change_user(
        lambda session, caller, now: auth_service.set_active(
            session, caller=caller, username=name, active=False, now=now
        ),
        f"{name} disabled; their tokens and sessions have ended",
    )


@user_app.command("enable")
def user_enable(name: str) -> None:
    """Let a disabled user sign in again."""
    _change_user(
        lambda session, caller, now: auth_service.set_active(
            session, caller=caller, username=name, active=True, now=now
        ),
        f"{name} enabled",
    )


def _change_user(change: Callable[[Session, Caller, datetime], object], done: str) -> None:
    caller = Caller(user_id=None, username=f"command line ({getpass.getuser()})", role=Role.system)
    try:
        with transaction(_session_factory()) as session:
            change(session, caller, datetime.now(UTC))
    except (InvalidInput, NotFound) as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(done)


def _paths(directory: Path | None) -> RulePaths:
    return RulePaths.of(get_settings(), directory)


def _checked(paths: RulePaths) -> RuleSources:
    """The rule set checked (every problem printed, exit 1), with the Code's editions."""
    started = time.perf_counter()
    try:
        report: CheckReport = check_rule_set(paths.rule_set)
        rules = RuleSources.load(paths, report.rule_set)
        partners = load_partners(paths.editions.parent / PARTNERS_FILE, areas=rules.areas)
    except RulesError as error:
        typer.echo(f"rule set {paths.rule_set} has {len(error.problems)} problem(s):", err=True)
        for problem in error.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from None
    elapsed = (time.perf_counter() - started) * 1000
    rule_set = report.rule_set
    typer.echo(
        f"ok: {rule_set.version} (hash {rule_set.hash}): {len(rule_set.routing.rules)} rules, "
        f"{len(rule_set.directory.providers)} providers, {report.shapes_checked} referral shapes "
        f"covered, {len(rules.editions)} Victims' Code editions, retention "
        f"{rules.retention.version} ({len(rules.retention.periods)} periods, default "
        f"{rules.retention.default_months} months), {len(partners.partners)} sharing "
        f"partners; checked in {elapsed:.0f} ms"
    )
    return rules


@rules_app.command("check")
def rules_check(
    directory: Path | None = typer.Argument(None, help="rule set folder (default: the area's)"),
) -> None:
    """Validate a rule set: fields, providers, priorities, dead rules and coverage."""
    _checked(_paths(directory))


@rules_app.command("load")
def rules_load(
    directory: Path | None = typer.Argument(None, help="rule set folder (default: the area's)"),
) -> None:
    """Check a rule set, then sync its provider directory into the database. A running
    service keeps the rules it started with: restart it (each replica) to route by these."""
    rules = _checked(_paths(directory))
    _load_providers(_session_factory(), rules, datetime.now(UTC))
    typer.echo("restart the service (each replica) to route by these rules")


def _load_providers(factory: sessionmaker[Session], rules: RuleSources, now: datetime) -> None:
    with transaction(factory) as session:
        report = provider_service.sync_directory(
            session, directory=rules.rule_set.directory, now=now
        )
    typer.echo(
        f"providers from {rules.paths.directory}: {len(report.added)} added "
        f"{report.added or ''}, {len(report.updated)} updated {report.updated or ''}, "
        f"{len(report.unchanged)} unchanged (live accepting and capacity kept)"
    )


@providers_app.command("import-oruk")
def providers_import_oruk(
    source: str = typer.Argument(..., help="an ORUK document: a file, or an http(s) URL"),
    rule_set: Path | None = typer.Option(
        None, "--rule-set", help="rule set folder (default: the area's)"
    ),
    area: list[str] = typer.Option(
        [], "--area", help="area code of the services that name no service area (repeatable)"
    ),
    areas_map: Path | None = typer.Option(
        None, "--areas-map", help="TOML file: a directory's area names = area codes"
    ),
    write: bool = typer.Option(False, "--write", help="apply the changes to providers.toml"),
    diff: bool = typer.Option(False, "--diff", help="also print the change as a unified diff"),
) -> None:
    """Show what an Open Referral UK directory (a service, a service list, or an organization
    with its services) would change in providers.toml; --write applies it."""
    from triage.app import make_directory_reader

    folder = _paths(rule_set).rule_set
    try:
        directory = load_directory(folder / "providers.toml")
        areas = directory_file.area_matcher(directory.areas, unnamed=area, area_map=areas_map)
        listing = make_directory_reader().read(source)
        plan = plan_import(listing=listing, directory=directory, areas=areas)
        proposal = directory_file.propose(plan, folder=folder)
        if write and plan.changes_file:
            directory_file.write(proposal)
    except (DirectoryUnreadable, directory_file.DirectoryFileError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    except RulesError as error:
        typer.echo(f"rule set {folder}: {len(error.problems)} problem(s); nothing written:",
                   err=True)  # fmt: skip
        typer.echo("\n".join(f"  {problem}" for problem in error.problems), err=True)
        raise typer.Exit(1) from None
    _show_import(proposal, written=write, diff=diff)


def _show_import(proposal: directory_file.Proposal, *, written: bool, diff: bool) -> None:
    typer.echo("\n".join(describe(proposal.plan, target=str(proposal.path))))
    if diff:
        typer.echo("".join(difflib.unified_diff(
            proposal.before.splitlines(keepends=True), proposal.after.splitlines(keepends=True),
            str(proposal.path), f"{proposal.path} (proposed)")))  # fmt: skip
    before, after = proposal.version
    if not proposal.plan.changes_file:
        typer.echo("\nnothing to change")
    elif not written:
        typer.echo("\nnothing written: run again with --write to apply")
    else:
        bump = f"version {before} -> {after}" if after else f"version {before}: bump it by hand"
        typer.echo(f"\nwritten: {proposal.path} ({bump}); next: triage rules load")


@import_app.command("police-feed")
def import_police_feed(
    file: Path = typer.Argument(..., help="CSV with a header row, or JSON lines (UTF-8)"),
    mapping: Path | None = typer.Option(
        None, "--mapping", help="TOML: our column = their column, and value maps for codes"
    ),
    rejects: Path | None = typer.Option(
        None, "--rejects", help="CSV of the rows not imported (default: FILE.rejects.csv)"
    ),
    acting_as: str = typer.Option(
        auth_service.FEED_USER,
        "--as",
        help="the intake or triage user the audit names (police-feed: added the first time, "
        "unable to sign in)",
    ),
) -> None:
    """Import a police feed: each row validated as POST /api/referrals validates a body, and
    given the same Victims' Code evaluation and audit. Rows whose crime reference is stored
    already are counted, not added again. Exit status 3 when any row was rejected."""
    from triage.app import make_feed_reader

    import_cli.police_feed(file, mapping=mapping, rejects=rejects, acting_as=acting_as,
                           make_reader=make_feed_reader)  # fmt: skip


@app.command()
def demo(
    referrals: int = typer.Option(0, "--referrals", min=0, help="synthetic referrals to add"),
    no_users: bool = typer.Option(False, "--no-users", help="do not add the demo users"),
    days: int = typer.Option(
        3 * 365, "--days", min=1, max=20 * 365, help="received over this many days up to today"
    ),
) -> None:
    """Load the demo area's providers, one user per role, and a synthetic history of
    referrals (in bulk; a few received lately are left open for the live demo)."""
    from triage.demo import add_history

    settings = get_settings()
    factory = _session_factory()
    now = datetime.now(UTC)
    rules = _checked(_paths(None))
    _load_providers(factory, rules, now)
    if not no_users:
        _add_demo_users(factory, now)
    if referrals:
        with typer.progressbar(length=referrals, label="demo history", file=sys.stderr) as bar:
            added = add_history(
                factory,
                rules=rules,
                settings=settings,
                count=referrals,
                now=now,
                progress=bar.update,
                note=lambda line: typer.echo(f"\ndemo history: {line}", err=True),
                days=days,
            )
        typer.echo(
            f"demo referrals: {added.referrals} added ({referrals - added.referrals} were "
            f"already there); {added.rows} rows in {added.seconds:.1f} s "
            f"({added.per_second:,.0f} referrals/s, "
            f"{added.rows / max(added.seconds, 1e-9):,.0f} rows/s)"
        )


def _add_demo_users(factory: sessionmaker[Session], now: datetime) -> None:
    shared = os.environ.get("TRIAGE_PASSWORD")
    lines = []
    with transaction(factory) as session:
        for username, role, provider in DEMO_USERS:
            if auth_service.username_taken(session, username):
                lines.append(f"  {username:<18} {role.value:<13} (exists; password unchanged)")
                continue
            password = shared or secrets.token_urlsafe(12)
            auth_service.add_user(
                session,
                username=username,
                password=password,
                role=role,
                provider_code=provider,
                now=now,
            )
            lines.append(f"  {username:<18} {role.value:<13} {password}")
    typer.echo("demo users (passwords are shown once; keep them):")
    typer.echo("\n".join(lines))


@retention_app.command("run")
def retention_run(
    as_of: datetime | None = typer.Option(
        None, "--as-of", formats=["%Y-%m-%d"], help="judge periods on this day (default: today)"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="list what would be anonymised"),
) -> None:
    """Anonymise every closed referral past its retention period: identity, contact details
    and free text removed, codes and dates kept (every report figure unchanged), one audit
    line each. The scheduled job does the same each day."""
    settings = get_settings()
    rules = _checked(RulePaths.of(settings))
    now = datetime.now(UTC)
    day = (as_of or now).date()
    judged = datetime.combine(day, datetime.max.time(), UTC) if as_of else now
    report = privacy.run_retention(
        session_factory_for(settings.database_url), retention=rules.retention, as_of=judged,
        now=now, dry_run=dry_run,
    )  # fmt: skip
    periods = ", ".join(f"{p} {n:,}" for p, n in sorted(report.by_period.items())) or "none"
    if dry_run:
        for reference in report.references:
            typer.echo(reference)
        typer.echo(f"would anonymise {len(report.references):,} referrals as of {day} "
                   f"(by period: {periods})")  # fmt: skip
    else:
        typer.echo(f"anonymised {report.anonymised:,} referrals as of {day} "
                   f"(by period: {periods})")  # fmt: skip


def main() -> None:
    app()
