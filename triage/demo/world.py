"""What every simulated referral draws on, built once per process: rules, providers, users,
a pool of synthetic people (Faker en_GB, never a real person), and the calendar of the last
three years with its growth and seasons."""

import bisect
import math
import random
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from faker import Faker

from triage.caller import Caller
from triage.config import Settings
from triage.lifecycle.codes import Role
from triage.referrals.people import name_key, phone_key
from triage.routing.engine import Decision, Engine, ProviderStatus, RoutingInput
from triage.routing.engine import statuses_from_directory as directory_statuses
from triage.rule_sources import RuleSources
from triage.vcop.calendar import WorkingCalendar
from triage.vcop.editions import Edition, edition_in_force

DAYS = 3 * 365
PEOPLE = 4000
GROWTH = 0.35  # referrals a day grow by about a third over the three years


@dataclass(frozen=True, slots=True)
class Person:
    full_name: str
    name_key: str
    address: str
    postcode: str
    email: str


# A decision's matched rules, candidates and skips as its routing_decisions row holds them.
DecisionValues = tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]


@dataclass
class World:
    """The area, its rules and users, the people and the days a fill's referrals are made of;
    routing decisions remembered by the shape they were made for."""

    now: datetime
    settings: Settings
    engine: Engine
    statuses: dict[str, ProviderStatus]
    editions: tuple[Edition, ...]
    calendar: WorkingCalendar
    areas: list[str]
    provider_ids: dict[str, int]
    respond_hours: dict[str, int]
    specialisms: dict[str, str]
    intake: Caller
    triage: Caller
    providers: dict[str, Caller]
    people: list[Person]
    recent_share: float
    day_starts: list[datetime] = field(default_factory=list)
    day_weights: list[float] = field(default_factory=list)
    _decisions: dict[Any, Decision] = field(default_factory=dict)
    _decision_values: dict[Decision, DecisionValues] = field(default_factory=dict)

    def edition_on(self, day: date) -> Edition:
        """The Victims' Code edition in force on `day`."""
        return edition_in_force(self.editions, day)

    def decide(self, routing: RoutingInput, excluded: dict[str, str]) -> Decision:
        """The routing engine's decision, remembered (the same shape decides the same)."""
        key = (routing, tuple(sorted(excluded.items())))
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decisions[key] = self.engine.decide(routing, self.statuses, excluded)
        return decision

    def decision_values(self, decision: Decision) -> DecisionValues:
        """A decision's matched rules, candidates and skipped providers as its
        routing_decisions rows hold them: made once for equal decisions, shared by their rows
        (never changed)."""
        parts = self._decision_values.get(decision)
        if parts is None:
            parts = self._decision_values[decision] = (
                list(decision.matched_rules),
                [asdict(c) for c in decision.candidates],
                [asdict(s) for s in decision.skipped],
            )
        return parts

    def received_at(self, rng: random.Random) -> datetime:
        """When a referral arrived: a day of the last three years (more lately, fewer in
        late summer), at a working-hours-weighted time of day; or, for the share kept
        recent so the live demo has a queue, within the last three days."""
        if rng.random() < self.recent_share:
            return self.now - timedelta(hours=rng.uniform(0.5, 72))
        index = bisect.bisect(self.day_weights, rng.random() * self.day_weights[-1])
        index = min(index, len(self.day_starts) - 1)
        hour = rng.choice(_HOURS)
        at = self.day_starts[index] + timedelta(hours=hour, seconds=rng.randrange(3600))
        return min(at, self.now - timedelta(minutes=1))


# Police referrals arrive in office hours mostly, some overnight.
_HOURS = [h for h in range(24) for _ in range(4 if 8 <= h < 18 else 2 if 18 <= h < 22 else 1)]


def build_world(
    rules: RuleSources,
    settings: Settings,
    *,
    now: datetime,
    users: dict[str, Caller],
    provider_users: dict[str, Caller],
    provider_ids: dict[str, int],
    recent_share: float,
    seed: int,
    days: int = DAYS,
) -> World:
    rule_set = rules.rule_set
    directory = rule_set.directory.providers
    triage = users.get("triage") or users["intake"]
    world = World(
        now=now,
        settings=settings,
        engine=rules.engine,
        statuses=directory_statuses(rule_set),
        editions=rules.editions,
        calendar=WorkingCalendar(settings.timezone, settings.vcop_cutoff),
        areas=sorted(rule_set.directory.areas),
        provider_ids=provider_ids,
        respond_hours={p.code: p.respond_by_hours for p in directory},
        specialisms={p.code: (str(p.services[0]) if p.services else "none") for p in directory},
        intake=users.get("intake") or triage,
        triage=triage,
        providers={
            p.code: provider_users.get(p.code) or Caller(None, f"{p.code}-team", Role.provider)
            for p in directory
        },
        people=_people(seed),
        recent_share=recent_share,
    )
    _calendar_of_days(world, settings.timezone, days)
    return world


def _people(seed: int) -> list[Person]:
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    people = []
    for _ in range(PEOPLE):
        name = fake.name()
        people.append(
            Person(name, name_key(name), fake.street_address(), fake.postcode(), fake.free_email())
        )
    return people


@cache  # a thousand numbers, each normalised once
def phone(number: int) -> tuple[str, str]:
    """A number in Ofcom's drama range (07700 900000-900999): never a real line."""
    text = f"07700 900{number % 1000:03d}"
    return text, phone_key(text) or ""


def _calendar_of_days(world: World, timezone: str, days: int) -> None:
    zone = ZoneInfo(timezone)
    today = world.now.astimezone(zone).date()
    first = today - timedelta(days=days)
    total = 0.0
    for offset in range(days + 1):
        day = first + timedelta(days=offset)
        growth = 1 + GROWTH * offset / max(days, 1)
        season = 1 + 0.12 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 15) / 365)
        weekday = 0.8 if day.weekday() >= 5 else 1.05
        total += growth * season * weekday
        world.day_starts.append(datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC))
        world.day_weights.append(total)
