"""Synthetic demo referrals (Faker en_GB): never a real person."""

import random
from datetime import UTC, datetime, timedelta

from faker import Faker
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from triage.auth.models import User
from triage.auth.service import Caller
from triage.config import Settings
from triage.db import transaction
from triage.lifecycle.codes import Channel, CrimeType, HateStrand, Role, Source
from triage.providers.service import area_codes
from triage.referrals.schemas import ReferralCreate, VictimIn
from triage.referrals.service import create_referral

CRIME_MIX = [
    (CrimeType.violence, 22),
    (CrimeType.domestic_abuse, 18),
    (CrimeType.theft, 12),
    (CrimeType.burglary, 9),
    (CrimeType.criminal_damage, 8),
    (CrimeType.harassment_stalking, 8),
    (CrimeType.sexual_offence, 6),
    (CrimeType.fraud, 5),
    (CrimeType.robbery, 4),
    (CrimeType.public_order, 4),
    (CrimeType.child_sexual_exploitation, 1),
    (CrimeType.other, 3),
]


def demo_referral(
    fake: Faker, rng: random.Random, number: int, areas: list[str], now: datetime
) -> ReferralCreate:
    """One synthetic referral; `number` makes its external reference (and so it is idempotent)."""
    crime = rng.choices([c for c, _ in CRIME_MIX], weights=[w for _, w in CRIME_MIX])[0]
    strands = [] if rng.random() > 0.08 else rng.sample(list(HateStrand), rng.choice([1, 1, 2]))
    age = rng.choice([15, 17, 19, 24, 31, 38, 45, 52, 67, 80])
    born = (now - timedelta(days=age * 365 + rng.randint(0, 364))).date()
    reported = now - timedelta(hours=rng.randint(2, 24 * 5))
    return ReferralCreate(
        source=Source.police,
        external_ref=f"DEMO-{number:06d}",
        crime_type=crime,
        hate_strands=strands,
        crime_reported_at=reported,
        area=rng.choice(areas),
        victim=VictimIn(
            full_name=fake.name(),
            date_of_birth=born,
            phone=f"07700 900{rng.randint(0, 999):03d}",
            email=fake.free_email() if rng.random() < 0.5 else None,
            address=fake.street_address(),
            postcode=fake.postcode(),
            safe_channels=rng.sample([Channel.phone, Channel.sms, Channel.email], 2),
            safe_times=rng.choice([None, "weekdays 09:00-12:00", "evenings only"]),
            language="en",
        ),
        notes=None,
    )


def add_demo_referrals(factory: sessionmaker[Session], *, settings: Settings, count: int) -> int:
    """Add `count` synthetic police referrals through the service; answers how many were new."""
    fake = Faker("en_GB")
    fake.seed_instance(20261125)
    rng = random.Random(20261125)
    areas = sorted(area_codes(settings.rules_dir / settings.rule_set / "providers.toml"))
    now = datetime.now(UTC)
    added = 0
    with transaction(factory) as session:
        intake = session.scalar(select(User).where(User.role == Role.intake.value).limit(1))
        user = intake or session.scalar(select(User).where(User.role == Role.triage.value).limit(1))
        if user is None:
            raise SystemExit("demo referrals need a triage or intake user: run without --no-users")
        caller = Caller(user_id=user.id, username=user.username, role=Role(user.role))
        for number in range(1, count + 1):
            body = demo_referral(fake, rng, number, areas, now)
            intake = create_referral(
                session, caller=caller, body=body, idempotency_key=None, now=now, settings=settings
            )
            added += intake.created
    return added
