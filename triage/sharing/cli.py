"""`triage export …`: the sharing export to partner agencies, and its partners file."""

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path

import typer

from triage.caller import Caller
from triage.config import Settings, get_settings
from triage.db import session_factory_for, transaction
from triage.errors import InvalidInput
from triage.lifecycle.codes import Role
from triage.rule_sources import RulePaths, RulesError, load_directory
from triage.sharing import service as sharing_service
from triage.sharing.partners import PARTNERS_FILE, PartnersFile, load_partners
from triage.sharing.protocol import SharingWriter
from triage.sharing.schemas import SharingRecord

export_app = typer.Typer(
    help="Exports to partner agencies: the sharing export (routing_rules/partners.toml).",
    no_args_is_help=True,
)
PARTNERS = typer.Option(None, "--partners", help="partners file (default: routing_rules/'s)")


@export_app.command("sharing")
def export_sharing(
    partner: str = typer.Option(..., "--partner", help="the partner's code in partners.toml"),
    since: str = typer.Option(
        ..., "--since", help="changed at or after: an ISO date or date-time (UTC unless it says)"
    ),
    out: Path | None = typer.Option(None, "--out", help="file to write (default: standard output)"),
    purpose: str | None = typer.Option(
        None, "--purpose", help="one of the partner's purposes (default: its only one)"
    ),
    partners_file: Path | None = PARTNERS,
) -> None:
    """Write, as JSON lines, the referrals PARTNER may see that changed since SINCE: consent to
    share given (as it stands now), not locked down, not anonymised, in one of the partner's
    areas. Each record written is audited (`shared`, with partner and purpose). Exit status 1
    when the partners file has problems, 2 for an unknown partner or purpose."""
    settings = get_settings()
    partners = _checked_partners(settings, partners_file)
    try:
        chosen = partners.partner(partner)
        purpose = chosen.purpose_for(purpose)
    except InvalidInput as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    start, now = _moment(since), datetime.now(UTC)
    writer = _writer(out)
    caller = Caller(user_id=None, username=f"command line ({getpass.getuser()})", role=Role.system)
    try:
        with transaction(session_factory_for(settings.database_url)) as session:
            shared = sharing_service.share_referrals(
                session, partner=chosen, purpose=purpose, since=start, now=now, caller=caller,
                writer=writer,
            )  # fmt: skip
    except BaseException:
        writer.discard()
        raise
    writer.publish()
    where = f" to {out}" if out else ""
    typer.echo(
        f"shared {shared:,} referrals with {chosen.code} ({purpose}){where}, changed from "
        f"{start.isoformat()} to {now.isoformat()}; next export: --since {now.isoformat()}",
        err=True,
    )


@export_app.command("check-partners")
def check_partners(
    file: Path | None = typer.Argument(None, help="partners file (default: routing_rules/'s)"),
) -> None:
    """Validate the partners file: fields, codes, purposes, and each area one of the rule
    set's. Exit status 1 when it has problems."""
    settings = get_settings()
    partners = _checked_partners(settings, file)
    codes = ", ".join(p.code for p in partners.partners) or "none"
    typer.echo(f"ok: {_partners_path(settings, file)} version {partners.version}: "
               f"{len(partners.partners)} partners ({codes})")  # fmt: skip


@export_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of a sharing record (docs/sharing/record.schema.json)."""
    typer.echo(json.dumps(SharingRecord.model_json_schema(), indent=2, ensure_ascii=False))


def _partners_path(settings: Settings, file: Path | None) -> Path:
    return file or Path(settings.rules_dir) / PARTNERS_FILE


def _checked_partners(settings: Settings, file: Path | None) -> PartnersFile:
    """The partners file, checked against the rule set's areas; every problem printed, exit 1."""
    path = _partners_path(settings, file)
    try:
        areas = load_directory(RulePaths.of(settings).directory).areas
        return load_partners(path, areas=areas)
    except RulesError as error:
        typer.echo(f"{path} has {len(error.problems)} problem(s):", err=True)
        typer.echo("\n".join(f"  {problem}" for problem in error.problems), err=True)
        raise typer.Exit(1) from None


def _moment(value: str) -> datetime:
    """An ISO date (its midnight) or date-time; without an offset, UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date or date-time (2026-11-24, 2026-11-24T09:30:00Z)",
            param_hint="--since",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _writer(out: Path | None) -> SharingWriter:
    """The JSON lines writer: to `out`, or to standard output."""
    from triage.app import make_sharing_writer

    try:
        return make_sharing_writer(out)
    except OSError as error:
        raise typer.BadParameter(
            f"cannot write {out}: {error.strerror}", param_hint="--out"
        ) from None
