"""A synthetic police feed (v1 CSV or JSON lines) for tests and benchmarks: people drawn from
a Faker en_GB pool (never a real person), a share of rows bad in every way a feed can be, a
share repeating an earlier row exactly; with what an import of it must report."""

import csv
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from faker import Faker

from triage.demo import draws
from triage.imports.feed import COLUMNS

AREAS = ("derby_city", "derbyshire_county")
CHANNELS = ("phone", "sms", "email", "letter")
REPEAT_POOL = 10_000  # a repeat repeats one of about the latest 10,000 good rows


@dataclass(frozen=True)
class Bad:
    """A kind of bad row: its name, the column the import must name, and how to spoil a row.
    `whole_row`: the row cannot be read at all (the import names the field `row`)."""

    name: str
    column: str
    spoil: Callable[[dict[str, Any]], None]
    csv_only: bool = False


def _set(column: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def spoil(row: dict[str, Any]) -> None:
        row[column] = value

    return spoil


BAD_KINDS = (
    Bad("no crime reference", "external_ref", _set("external_ref", "")),
    Bad("unknown crime type", "crime_type", _set("crime_type", "jaywalking")),
    Bad("no crime type", "crime_type", _set("crime_type", "")),
    Bad("unknown hate strand", "hate_strands", _set("hate_strands", "race;astrology")),
    Bad("crime date not ISO 8601", "crime_reported_at", _set("crime_reported_at", "31/12/2025")),
    Bad(
        "crime date without offset",
        "crime_reported_at",
        _set("crime_reported_at", "2025-06-01T10:00:00"),
    ),
    Bad(
        "crime in the future",
        "crime_reported_at",
        _set("crime_reported_at", "2099-01-01T10:00:00+00:00"),
    ),
    Bad(
        "crime before birth",
        "crime_reported_at",
        lambda row: row.update(
            date_of_birth="2010-05-05", crime_reported_at="2009-01-01T10:00:00+00:00"
        ),
    ),
    Bad("unknown area", "area", _set("area", "atlantis")),
    Bad("no name", "full_name", _set("full_name", "")),
    Bad("name too long", "full_name", _set("full_name", "A" * 201)),
    Bad("impossible birth date", "date_of_birth", _set("date_of_birth", "2001-02-30")),
    Bad("birth in the future", "date_of_birth", _set("date_of_birth", "2090-01-01")),
    Bad("bad phone", "phone", _set("phone", "call me maybe")),
    Bad("bad email", "email", _set("email", "not-an-email")),
    Bad("bad postcode", "postcode", _set("postcode", "XYZ 123")),
    Bad("unknown channel", "safe_channels", _set("safe_channels", "phone;pigeon")),
    Bad("bad language", "language", _set("language", "en_GB!")),
    Bad("NUL in notes", "notes", _set("notes", "seen at \x00 night")),
    Bad("notes too long", "notes", _set("notes", "x" * 5001)),
    Bad("too many cells", "row", lambda row: row.update(extra="surplus"), csv_only=True),
)


@dataclass
class Plan:
    """What importing the feed must report."""

    rows: int = 0
    created: int = 0
    already_present: int = 0
    rejected: int = 0
    rejects: dict[int, str] = field(default_factory=dict)  # row -> the column named


def write_feed(
    path: Path,
    rows: int,
    *,
    bad_share: float = 0.0,
    repeat_share: float = 0.0,
    seed: int = 1,
    json_lines: bool = False,
    today: date | None = None,
) -> Plan:
    """Write `rows` rows: about `bad_share` bad (every kind in turn), about `repeat_share`
    repeating an earlier good row exactly, the rest new. Answers what an import must say."""
    rng = random.Random(seed)
    people = _people(seed, min(4000, max(50, rows // 20)))
    now = datetime.combine(today or date.today(), datetime.min.time(), UTC)
    plan = Plan(rows=rows)
    kinds = [k for k in BAD_KINDS if not (json_lines and k.csv_only)]
    good: list[dict[str, Any]] = []  # the latest good rows, for repeats: memory stays flat
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        if not json_lines:
            writer.writerow(COLUMNS)
        for number in range(1, rows + 1):
            draw = rng.random()
            if draw < bad_share:
                kind = kinds[plan.rejected % len(kinds)]
                row = _row(rng, people, now, f"BAD-{number:08d}")
                kind.spoil(row)
                plan.rejected += 1
                plan.rejects[number] = kind.column
            elif draw < bad_share + repeat_share and good:
                row = rng.choice(good)
                plan.already_present += 1
            else:
                row = _row(rng, people, now, f"{now:%y}/{number:08d}")
                if repeat_share:
                    good.append(row)
                    if len(good) > 2 * REPEAT_POOL:
                        del good[:REPEAT_POOL]
                plan.created += 1
            if json_lines:
                out.write(json.dumps({k: v for k, v in row.items() if v != ""}) + "\n")
            else:
                writer.writerow([row.get(c, "") for c in COLUMNS] + (
                    [row["extra"]] if "extra" in row else []))  # fmt: skip
    return plan


def _row(
    rng: random.Random, people: list[tuple[str, str, str, str]], now: datetime, ref: str
) -> dict[str, Any]:
    name, address, postcode, email = rng.choice(people)
    crime = rng.choices(draws.CRIME_TYPES, cum_weights=draws.CRIME_WEIGHTS_SUMMED)[0]
    youngest, oldest, _ = rng.choices(draws.AGE_BANDS, cum_weights=draws.AGE_BAND_WEIGHTS_SUMMED)[0]
    reported = now - timedelta(days=rng.randint(1, 60), minutes=rng.randint(0, 24 * 60))
    born = reported.date() - timedelta(days=rng.randint(youngest * 365 + 1, oldest * 365))
    hate = ""
    if rng.random() < 0.06:
        hate = rng.choices(draws.HATE_STRANDS, cum_weights=draws.HATE_STRAND_WEIGHTS_SUMMED)[0]
    return {
        "external_ref": ref,
        "crime_type": crime,
        "hate_strands": hate,
        "crime_reported_at": reported.isoformat(),
        "area": rng.choice(AREAS),
        "full_name": name,
        "date_of_birth": born.isoformat() if rng.random() < 0.9 else "",
        "phone": f"07700 900{rng.randint(0, 999):03d}" if rng.random() < 0.8 else "",
        "email": email if rng.random() < 0.5 else "",
        "address": address,
        "postcode": postcode,
        "safe_channels": ";".join(rng.sample(CHANNELS, rng.randint(0, 2))),
        "safe_times": rng.choice(draws.SAFE_TIMES) or "",
        "language": "" if rng.random() < 0.9 else rng.choice(("cy", "pl", "ur", "pa")),
        "notes": "" if rng.random() < 0.7 else "Victim asked to be called after work.",
    }


def _people(seed: int, count: int) -> list[tuple[str, str, str, str]]:
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    people = []
    for _ in range(count):
        name = fake.name()
        email = f"{name.lower().replace(' ', '.').replace(chr(39), '')}@example.com"
        people.append((name, fake.street_address().replace("\n", ", "), fake.postcode(), email))
    return people
