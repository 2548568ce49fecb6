"""The sharing export (issue 16): `triage export sharing --partner P --since T` writes, as
JSON lines, the referrals partner P may see (consent to share given now, not locked down,
not anonymised, in the partner's areas and crime types, changed since T), each audited once
per export with a `shared` line that names the partner and purpose and nothing personal.

Referrals are built through the API on both databases; the export runs through the service
with the real JSON lines writer (fast, on the tests' clock), and through the command line
for what the command adds (options, exit statuses, standard output, --out)."""

import io
import json
import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from adapters.sharing.jsonl import JsonLinesFile, JsonLinesStream
from tests.api.flows import assessing, audit_rows, ok
from tests.db.test_cli import ROOT
from tests.db.test_cli import triage as run_triage
from tests.support import Api, FakeClock, victim
from triage.caller import Caller
from triage.db import transaction
from triage.lifecycle.codes import Role
from triage.referrals.models import Referral
from triage.rule_sources import RulesError, RuleSources
from triage.sharing import service as sharing_service
from triage.sharing.partners import PartnersFile, load_partners
from triage.sharing.protocol import SharingWriter
from triage.sharing.schemas import SharingRecord

SCHEMA_FILE = ROOT / "docs" / "sharing" / "record.schema.json"
NAME = "Philippa Quarrendon-Bligh"  # the victim of every referral here: a name no other test uses
CALLER = Caller(user_id=None, username="test export", role=Role.system)
PARTNERS = """
version = "test"

[[partners]]
code = "city"
name = "City partnership"
areas = ["derby_city"]
purposes = ["safeguarding"]

[[partners]]
code = "county-wide"
name = "County-wide partnership"
areas = ["derby_city", "derbyshire_county"]
purposes = ["safeguarding", "case_coordination"]

[[partners]]
code = "city-da"
name = "City domestic abuse partnership"
areas = ["derby_city"]
purposes = ["safeguarding"]
crime_types = ["domestic_abuse"]
"""
NO_CONSENT = {"consent": {"share_with_provider": False, "method": None}}
DASH = {"risk": {"dash_score": 15, "professional_judgement": None}}


def validator() -> Draft202012Validator:
    """The published schema, its formats checked (date-time with an offset, as RFC 3339)."""
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=checker)


VALID = validator()


def parsed(text: str) -> list[dict[str, Any]]:
    """JSON lines, each checked against the published schema."""
    assert text == "" or text.endswith("\n")
    lines = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        VALID.validate(line)
    return lines


@pytest.fixture
def partners(rules: RuleSources, tmp_path: Path) -> PartnersFile:
    path = tmp_path / "partners.toml"
    path.write_text(PARTNERS)
    return load_partners(path, areas=rules.areas)


class Export:
    """Runs the export through the service on the tests' clock, in its own transaction."""

    def __init__(
        self, factory: sessionmaker[Session], partners: PartnersFile, clock: FakeClock
    ) -> None:
        self.factory, self.partners, self.clock = factory, partners, clock
        self.started = clock()

    def __call__(
        self,
        partner: str = "city",
        *,
        since: datetime | None = None,
        purpose: str | None = None,
        batch: int = 500,
    ) -> list[dict[str, Any]]:
        chosen = self.partners.partner(partner)
        out = io.StringIO()
        writer = JsonLinesStream(out)
        now = self.clock.advance(seconds=1)
        with transaction(self.factory) as session:
            count = sharing_service.share_referrals(
                session,
                partner=chosen,
                purpose=chosen.purpose_for(purpose),
                since=since or self.started,
                now=now,
                caller=CALLER,
                writer=writer,
                batch=batch,
            )
        writer.publish()
        lines = parsed(out.getvalue())
        assert len(lines) == count
        return lines

    def references(self, partner: str = "city", **options: Any) -> set[str]:
        return {line["reference"] for line in self(partner, **options)}


@pytest.fixture
def export(
    session_factory: sessionmaker[Session], partners: PartnersFile, clock: FakeClock
) -> Export:
    return Export(session_factory, partners, clock)


def consenting(triage: Api, **create: Any) -> dict[str, Any]:
    """Assessed, the victim's consent to share recorded as given (verbally)."""
    return assessing(triage, victim=victim(full_name=NAME), **create)


def withdraw_consent(triage: Api, ref: dict[str, Any]) -> dict[str, Any]:
    """Consent to share withdrawn (the referral unchanged since `ref` was answered)."""
    return ok(
        triage.put(
            f"/api/referrals/{ref['id']}/consent",
            {"version": ref["version"], "share_with_provider": False, "method": None},
        )
    )


class TestWhatIsShared:
    def test_only_referrals_with_consent_given_are_shared(
        self, triage: Api, export: Export
    ) -> None:
        given = consenting(triage)
        assessing(triage, victim=victim(full_name=NAME), assessment=NO_CONSENT)
        assessing(triage, victim=victim(full_name=NAME), assess=False)  # never asked
        assert export.references() == {given["reference"]}

    def test_a_locked_down_referral_is_not_shared(
        self, triage: Api, sign_in: Any, export: Export
    ) -> None:
        kept, locked = consenting(triage), consenting(triage)
        assert export.references() == {kept["reference"], locked["reference"]}
        named = "named-sharing-worker"
        sign_in("triage", username=named)
        ok(
            triage.put(
                f"/api/referrals/{locked['id']}/lockdown",
                {"version": locked["version"], "users": [named], "reason": "works in the unit"},
            )
        )
        assert export.references() == {kept["reference"]}

    def test_a_partner_sees_only_its_areas(self, triage: Api, export: Export) -> None:
        city = consenting(triage, area="derby_city")
        county = consenting(triage, area="derbyshire_county")
        assert export.references("city") == {city["reference"]}
        assert export.references("county-wide", purpose="safeguarding") == {
            city["reference"],
            county["reference"],
        }

    def test_a_partner_limited_to_crime_types_sees_only_those(
        self, triage: Api, export: Export
    ) -> None:
        abuse = assessing(triage, crime_type="domestic_abuse", assessment=DASH)
        consenting(triage, crime_type="burglary")
        assert export.references("city-da") == {abuse["reference"]}

    def test_consent_withdrawn_after_an_export_stops_the_next_one(
        self, triage: Api, export: Export
    ) -> None:
        stays, withdrawn = consenting(triage), consenting(triage)
        assert export.references() == {stays["reference"], withdrawn["reference"]}
        withdraw_consent(triage, withdrawn)
        assert export.references() == {stays["reference"]}

    def test_an_anonymised_referral_is_not_shared(
        self,
        triage: Api,
        export: Export,
        session_factory: sessionmaker[Session],
        clock: FakeClock,
    ) -> None:
        kept, gone = consenting(triage), consenting(triage)
        with transaction(session_factory) as session:
            session.execute(
                update(Referral)
                .where(Referral.id == UUID(gone["id"]))
                .values(anonymised_at=clock())
            )
        assert export.references() == {kept["reference"]}


class TestSince:
    def test_only_referrals_changed_at_or_after_since_are_shared(
        self, triage: Api, export: Export, clock: FakeClock
    ) -> None:
        old = consenting(triage)
        clock.advance(hours=2)  # within the token's 8 hours
        cutoff = clock()
        new = consenting(triage)
        assert export.references(since=cutoff) == {new["reference"]}
        assert export.references(since=cutoff + timedelta(microseconds=1)) == set()
        assert export.references(since=cutoff - timedelta(hours=3)) == {
            old["reference"],
            new["reference"],
        }

    def test_a_change_brings_a_referral_into_the_next_export_from_the_last_ones_end(
        self, triage: Api, export: Export, clock: FakeClock
    ) -> None:
        first, second = consenting(triage), consenting(triage)
        export()
        ended = clock()  # the export's `now`: the next export starts there
        assert export.references(since=ended) == set()
        ok(
            triage.put(
                f"/api/referrals/{second['id']}/consent",
                {"version": second["version"], "share_with_provider": True, "method": "written"},
            )
        )
        assert export.references(since=ended) == {second["reference"]}
        assert first["reference"] not in export.references(since=ended)

    def test_batches_share_each_referral_once_in_change_order(
        self, triage: Api, export: Export, clock: FakeClock
    ) -> None:
        made = []
        for _ in range(3):
            made.append(consenting(triage)["reference"])
            clock.advance(minutes=1)
        assert [line["reference"] for line in export(batch=1)] == made
        assert [line["reference"] for line in export(batch=2)] == made


class TestTheRecord:
    def test_the_published_schema_is_the_models_schema(self) -> None:
        assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == (
            SharingRecord.model_json_schema()
        )
        assert SharingRecord.model_json_schema()["$schema"] == (
            "https://json-schema.org/draft/2020-12/schema"
        )

    def test_a_record_carries_the_referral_the_victim_and_the_consent(
        self, triage: Api, export: Export
    ) -> None:
        ref = consenting(triage, hate_strands=["race"], crime_type="violence")
        (line,) = export("county-wide", purpose="case_coordination")
        assert line["reference"] == ref["reference"]
        assert (line["partner"], line["purpose"]) == ("county-wide", "case_coordination")
        assert (line["crime_type"], line["hate_strands"], line["area"], line["state"]) == (
            "violence",
            ["race"],
            "derby_city",
            "assessing",
        )
        assert line["victim"]["full_name"] == NAME
        assert line["victim"]["date_of_birth"] == "1990-04-02"
        assert line["victim"]["safe_channels"] == ["phone"]
        assert line["needs"] == ["emotional_support", "information_on_rights"]
        assert line["consent"]["method"] == "verbal"
        assert line["shared_at"].endswith("Z") and line["consent"]["recorded_at"].endswith("Z")

    def test_the_schema_refuses_a_record_with_a_field_missing_or_added(
        self, triage: Api, export: Export
    ) -> None:
        consenting(triage)
        (line,) = export()
        assert not VALID.is_valid({k: v for k, v in line.items() if k != "consent"})
        assert not VALID.is_valid({**line, "notes": "free text"})
        assert not VALID.is_valid({**line, "victim": {**line["victim"], "nickname": "x"}})


class TestAudit:
    def test_each_record_has_one_shared_line_per_export_naming_no_one(
        self, triage: Api, export: Export, session_factory: sessionmaker[Session]
    ) -> None:
        shared, withheld = consenting(triage), assessing(triage, assessment=NO_CONSENT)
        export(purpose=None)
        export("county-wide", purpose="case_coordination")
        rows = [r for r in audit_rows(session_factory, shared["id"]) if r.action == "shared"]
        assert [(r.detail, r.actor_role) for r in rows] == [
            ({"partner": "city", "purpose": "safeguarding"}, "system"),
            ({"partner": "county-wide", "purpose": "case_coordination"}, "system"),
        ]
        for row in rows:
            assert NAME.split()[0] not in json.dumps(row.detail)
        assert "shared" not in [r.action for r in audit_rows(session_factory, withheld["id"])]
        history = ok(triage.get(f"/api/referrals/{shared['id']}/history"))["events"]
        assert [e["detail"]["partner"] for e in history if e["action"] == "shared"] == [
            "city",
            "county-wide",
        ]

    def test_an_export_that_fails_writes_no_file_and_audits_nothing(
        self,
        triage: Api,
        partners: PartnersFile,
        session_factory: sessionmaker[Session],
        clock: FakeClock,
        tmp_path: Path,
    ) -> None:
        refs = [consenting(triage), consenting(triage)]
        target = tmp_path / "out" / "city.jsonl"
        target.parent.mkdir()
        writer = Failing(JsonLinesFile(target))
        with pytest.raises(OSError), transaction(session_factory) as session:
            try:
                sharing_service.share_referrals(
                    session,
                    partner=partners.partner("city"),
                    purpose="safeguarding",
                    since=clock() - timedelta(days=1),
                    now=clock.advance(seconds=1),
                    caller=CALLER,
                    writer=writer,
                    batch=1,
                )
            except OSError:
                writer.discard()
                raise
        assert list(target.parent.iterdir()) == []
        for ref in refs:
            assert "shared" not in [r.action for r in audit_rows(session_factory, ref["id"])]


class Failing:
    """A writer whose second batch fails (a full disk, say)."""

    def __init__(self, inner: SharingWriter) -> None:
        self.inner, self.batches = inner, 0

    def write(self, records: Any) -> None:
        self.batches += 1
        if self.batches > 1:
            raise OSError("no space left on device")
        self.inner.write(records)

    def publish(self) -> None:
        self.inner.publish()

    def discard(self) -> None:
        self.inner.discard()


class TestPartnersFile:
    def test_the_shipped_partners_file_checks(self) -> None:
        done = run_triage("export", "check-partners", url="sqlite:///unused.db")
        assert done.returncode == 0, done.stderr
        assert "ecins-derbyshire" in done.stdout

    @pytest.mark.parametrize(
        ("change", "problem"),
        [
            (
                ('"derby_city"]\npurposes', '"nowhere"]\npurposes'),
                "partner 'city' field areas: unknown area 'nowhere'",
            ),
            (
                ('code = "city"\n', 'code = "city"\ncolour = "red"\n'),
                "partner 'city' field colour: Extra inputs are not permitted",
            ),
            (
                ('crime_types = ["domestic_abuse"]', 'crime_types = ["shoplifting"]'),
                "partner 'city-da' field crime_types.0",
            ),
        ],
    )
    def test_a_problem_is_named_by_file_partner_and_field(
        self, tmp_path: Path, change: tuple[str, str], problem: str
    ) -> None:
        path = tmp_path / "partners.toml"
        path.write_text(PARTNERS.replace(*change, 1))
        done = run_triage("export", "check-partners", str(path), url="sqlite:///unused.db")
        assert done.returncode == 1
        assert f"{path}: {problem}" in done.stderr, done.stderr
        with pytest.raises(RulesError):
            load_partners(path, areas={"derby_city", "derbyshire_county"})

    def test_an_export_checks_the_file_first(self, tmp_path: Path) -> None:
        path = tmp_path / "partners.toml"
        path.write_text(PARTNERS.replace('"derby_city"]\npurposes', '"nowhere"]\npurposes', 1))
        done = run_triage(
            "export",
            "sharing",
            "--partner",
            "city",
            "--since",
            "2026-01-01",
            "--partners",
            str(path),
            url="sqlite:///unused.db",
        )
        assert done.returncode == 1 and "unknown area 'nowhere'" in done.stderr


class TestTheCommand:
    def test_writes_json_lines_to_standard_output_and_says_what_it_did(
        self, triage: Api, database_url: str, session_factory: sessionmaker[Session]
    ) -> None:
        ref = consenting(triage)
        assessing(triage, assessment=NO_CONSENT)
        done = export_command(
            "--partner",
            "ecins-derbyshire",
            "--purpose",
            "safeguarding",
            "--since",
            "2026-01-01",
            url=database_url,
        )
        assert done.returncode == 0, done.stderr
        assert [line["reference"] for line in parsed(done.stdout)] == [ref["reference"]]
        assert "shared 1 referrals with ecins-derbyshire (safeguarding)" in done.stderr
        assert "next export: --since " in done.stderr
        rows = [r for r in audit_rows(session_factory, ref["id"]) if r.action == "shared"]
        assert [r.detail for r in rows] == [
            {"partner": "ecins-derbyshire", "purpose": "safeguarding"}
        ]
        assert rows[0].actor_name.startswith("command line")

    def test_out_writes_a_file_only_its_owner_reads(
        self, triage: Api, database_url: str, tmp_path: Path
    ) -> None:
        ref = consenting(triage)
        out = tmp_path / "ecins.jsonl"
        done = export_command(
            "--partner",
            "ecins-derbyshire",
            "--purpose",
            "safeguarding",
            "--since",
            "2026-11-24T00:00:00+00:00",
            "--out",
            str(out),
            url=database_url,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""
        assert [line["reference"] for line in parsed(out.read_text())] == [ref["reference"]]
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir()] == ["ecins.jsonl"]

    def test_since_is_a_date_or_a_date_time(self, triage: Api, database_url: str) -> None:
        consenting(triage)  # at 2026-11-24T10:00Z on the tests' clock
        for since, shared in [
            ("2026-11-24", 1),
            ("2026-11-24T10:00:00Z", 1),
            ("2026-11-24T10:00:01", 0),
            ("2026-11-24T11:00:00+01:00", 1),
        ]:
            done = export_command(
                "--partner",
                "ecins-derbyshire",
                "--purpose",
                "safeguarding",
                "--since",
                since,
                url=database_url,
            )
            assert done.returncode == 0, done.stderr
            assert len(parsed(done.stdout)) == shared, since

    def test_an_unknown_partner_is_exit_status_2_naming_the_known_ones(self) -> None:
        done = export_command("--partner", "nobody", "--since", "2026-01-01")
        assert done.returncode == 2
        assert "unknown partner 'nobody'" in done.stderr
        assert "ecins-derbyshire" in done.stderr and "ecins-derby-city-da" in done.stderr

    def test_a_purpose_is_needed_when_the_partner_has_several(self) -> None:
        done = export_command("--partner", "ecins-derbyshire", "--since", "2026-01-01")
        assert done.returncode == 2 and "safeguarding, case_coordination" in done.stderr
        done = export_command(
            "--partner", "ecins-derbyshire", "--purpose", "marketing", "--since", "2026-01-01"
        )
        assert done.returncode == 2 and "no purpose 'marketing'" in done.stderr

    def test_a_since_that_is_not_a_date_is_refused(self) -> None:
        done = export_command("--partner", "ecins-derby-city-da", "--since", "last week")
        assert done.returncode == 2 and "--since" in done.stderr

    def test_schema_prints_the_published_schema(self) -> None:
        done = run_triage("export", "schema", url="sqlite:///unused.db")
        assert done.returncode == 0
        assert done.stdout == SCHEMA_FILE.read_text(encoding="utf-8")


def export_command(*options: str, url: str = "sqlite:///unused.db") -> Any:
    return run_triage("export", "sharing", *options, url=url)
