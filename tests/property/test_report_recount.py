"""Every report figure equals a recount from the audit events (issue 7, DESIGN 5).

Hypothesis draws small histories (how far each referral goes, how it ends, how much time
passes between them) and builds them through the API. After each example the reports are
read over the API and every published count is checked against a recount written here from
the audit log alone: a number must equal the recount, "<5" must hide a recount of 1 to 4,
and no line that adds up to a shown total may have exactly one hidden cell. At the end the
rollups are rebuilt from the audit events and must equal what the incremental fold kept.
"""

from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.api.flows import ok
from tests.support import Api, FakeClock
from triage.audit.models import AuditEvent
from triage.config import Settings
from triage.reports import fold, repository
from triage.reports.models import ReportCount

LONDON = ZoneInfo("Europe/London")
STAGE_ACTIONS = {
    "contacted": "contact_made",
    "assessed": "assessment",
    "referred": "route",
    "accepted": "accept",
}
plans = st.lists(
    st.fixed_dictionaries(
        {
            "crime_type": st.sampled_from(["burglary", "theft", "violence"]),
            "area": st.sampled_from(["derby_city", "derbyshire_county"]),
            "source": st.sampled_from(["police", "self_referral"]),
            "depth": st.integers(0, 6),
            "decline": st.booleans(),
            "closure": st.sampled_from(
                [None, "duplicate", "out_of_area", "victim_declined", "withdrawn"]
            ),
            "hours": st.integers(0, 24 * 20),
        }
    ),
    min_size=1,
    max_size=6,
)


def build(
    plan: dict[str, Any], triage: Api, workers: dict[str, Api], clock: FakeClock, **create: Any
) -> None:
    """Walk one referral as far as the plan says through the API (`create`: more of its
    body, or other values for it)."""
    ref = triage.create(
        crime_type=plan["crime_type"], source=plan["source"], area=plan["area"], **create
    )
    steps = [
        lambda r: triage.event(
            r["id"], "log_contact_attempt", r["version"], channel="phone", outcome="no_answer"
        ),  # fmt: skip
        lambda r: triage.event(r["id"], "contact_made", r["version"], channel="phone"),
        lambda r: triage.assess(r["id"], r["version"]),
        lambda r: triage.event(r["id"], "route", r["version"], provider="core-general"),
    ]
    for step in steps[: plan["depth"]]:
        ref = ok(step(ref))
    if plan["depth"] >= 4 and plan["decline"]:
        ref = ok(workers["core-general"].event(ref["id"], "decline", ref["version"],
                                               reason="no_capacity",
                                               note=create.get("notes")))  # fmt: skip
    if plan["depth"] >= 5 and ref["state"] == "awaiting_provider":
        holder = next(o["provider"] for o in ref["offers"] if o["answer"] is None)
        worker = workers[holder]
        ref = ok(worker.event(ref["id"], "accept", ref["version"]))
        if plan["depth"] == 6:
            ok(worker.event(ref["id"], "close", ref["version"], reason="support_completed",
                            outcomes={"feel_safer": True}))  # fmt: skip
            return
    if plan["closure"] and ref["state"] != "in_support":
        ok(triage.event(ref["id"], "close", ref["version"], reason=plan["closure"]))


def audit_log(factory: sessionmaker[Session]) -> list[Any]:
    """Every referral's audit events, oldest first: what the recounts read, and all they read."""
    with factory() as session:
        return list(
            session.execute(
                select(AuditEvent.referral_id, AuditEvent.action, AuditEvent.at, AuditEvent.detail)
                .where(AuditEvent.referral_id.is_not(None))
                .order_by(AuditEvent.id)
            ).all()
        )


def recount(factory: sessionmaker[Session]) -> dict[str, Any]:
    """What the reports should say, from the audit log only."""
    rows = audit_log(factory)
    cases: dict[Any, dict[str, Any]] = defaultdict(lambda: {"stages": set(), "offers": []})
    for referral_id, action, at, detail in rows:
        case = cases[referral_id]
        if action == "create":
            case.update(day=at.astimezone(LONDON).date(), **detail)
            case["stages"].add("received")
        for stage, stage_action in STAGE_ACTIONS.items():
            if action == stage_action:
                case["stages"].add(stage)
        if action == "close":
            case["closure"] = detail["reason"]
            if detail["reason"] == "support_completed":
                case["stages"].add("supported")
        if detail.get("offered_to"):
            case["offers"].append(detail["offered_to"])
        if action in ("accept", "decline"):
            case.setdefault("answers", []).append(action)
    return cases


def activity(factory: sessionmaker[Session]) -> Counter[tuple[date, str, str]]:
    """Counts of what happened on each day, from the audit log only."""
    rows = audit_log(factory)
    counts: Counter[tuple[date, str, str]] = Counter()
    offered: dict[Any, str] = {}
    crime: dict[Any, str] = {}
    referred: set[Any] = set()
    for referral_id, action, at, detail in rows:
        day = at.astimezone(LONDON).date()
        if action == "create":
            crime[referral_id] = detail["crime_type"]
        if action in ("accept", "decline"):
            counts[(day, f"{action}:{offered[referral_id]}", detail.get("reason") or "")] += 1
        if action == "route" and referral_id not in referred:  # the first referral on
            referred.add(referral_id)
            counts[(day, "referred_crime", crime[referral_id])] += 1
        if action == "close":
            counts[(day, "closed", detail["reason"])] += 1
        if detail.get("offered_to"):
            offered[referral_id] = detail["offered_to"]
            counts[(day, f"offer:{detail['offered_to']}", "")] += 1
    return counts


def total(counts: Counter[tuple[date, str, str]], first: date, last: date, kind: str,
          key: str | None = None) -> int:  # fmt: skip
    return sum(
        n for (day, k, sub), n in counts.items()
        if first <= day <= last and k == kind and (key is None or sub == key)
    )  # fmt: skip


def check_activity(reader: Api, counts: Counter[tuple[date, str, str]], first: date) -> None:
    """Provider performance and the MoJ return's referred and closed, against the log."""
    if not counts:
        return
    last = max(first, *(day for day, _, _ in counts))
    answer = ok(reader.get("/api/reports/providers", params={
        "from": first.isoformat(), "to": last.isoformat()}))  # fmt: skip
    for row in answer["providers"]:
        code = row["provider"]
        check_count(row["made"], total(counts, first, last, f"offer:{code}"), f"{code} made")
        check_count(row["accepted"], total(counts, first, last, f"accept:{code}"), code)
        check_count(row["declined"], total(counts, first, last, f"decline:{code}"), code)
    for year, number in {(d.year, (d.month - 1) // 3 + 1) for d, _, _ in counts}:
        start, end = date(year, 3 * number - 2, 1), date(year + number // 4, number % 4 * 3 + 1, 1)
        end = end - timedelta(days=1)
        moj = ok(reader.get("/api/reports/moj-return", params={"quarter": f"{year}Q{number}"}))
        for crime, count in moj["referred_by_crime_type"].items():
            if crime != "total":
                check_count(count, total(counts, start, end, "referred_crime", crime), crime)
        for reason, count in moj["closed_by_reason"].items():
            if reason != "total":
                check_count(count, total(counts, start, end, "closed", reason), reason)


def check_raw(
    factory: sessionmaker[Session], counts: Counter[tuple[date, str, str]], first: date
) -> None:
    """The rollup sums under the published figures, before suppression hides small ones."""
    if not counts:
        return
    last = max(day for day, _, _ in counts)
    with factory() as session:
        got = repository.sums(session, ["offer", "closed", "referred"], first, last)
    answers = {"offer": "made", "accept": "accepted", "decline": "declined"}
    expected: Counter[tuple[str, str]] = Counter()
    for day, kind, _ in counts:
        verb, _, provider = kind.partition(":")
        if verb in answers and provider and first <= day <= last:
            expected[(provider, answers[verb])] = total(counts, first, last, kind)
    offers = {k: n for k, n in got["offer"].items() if k[1] in answers.values() and n}
    assert offers == dict(expected)
    assert {r: n for (_, r), n in got["closed"].items() if n} == {
        r: n for r in {k for _, kind, k in counts if kind == "closed"}
        if (n := total(counts, first, last, "closed", r))
    }  # fmt: skip
    referred = {c: n for (k, c), n in got["referred"].items() if k == "crime_type" and n}
    assert referred == {
        c: n for c in {k for _, kind, k in counts if kind == "referred_crime"}
        if (n := total(counts, first, last, "referred_crime", c))
    }  # fmt: skip


def check_slices(factory: sessionmaker[Session], first: date) -> None:
    """Each slice of the Victims' Code counts adds up to the whole: every line of every
    referral is under exactly one area, one crime type and one pair of them."""
    last = first + timedelta(days=400)
    measures = ["vcop", *(f"vcop:{s}" for s in ("area", "crime_type", "area_crime_type"))]
    with factory() as session:
        got = repository.sums(session, measures, first, last)
    whole = {k: n for k, n in got["vcop"].items() if n}
    for measure in measures[1:]:
        summed: Counter[tuple[str, ...]] = Counter()
        for (key, subkey), n in got[measure].items():
            summed[(key.partition("#")[2], subkey)] += n
        assert {k: n for k, n in summed.items() if n} == whole, measure


def check_count(published: Any, expected: int, where: str) -> None:
    if published == "<5":
        assert 1 <= expected <= 4, where
    elif published != "*":
        assert published == expected, where


def check_conversion(
    reader: Api,
    cases: dict[Any, dict[str, Any]],
    group_by: str,
    first: date,
    **where: str,
) -> None:
    """One grouping of the funnel (of one slice when `where` names an area and/or crime
    type) against the recount."""
    last = max(c["day"] for c in cases.values())
    answer = ok(reader.get("/api/reports/conversion", params={
        "from": first.isoformat(), "to": last.isoformat(), "group_by": group_by,
        **where}))  # fmt: skip
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for case in cases.values():
        if any(case[name] != value for name, value in where.items()):
            continue
        key = case["day"].strftime("%Y-%m") if group_by == "month" else case[group_by]
        for group in ("all", key):
            if case.get("closure") in ("duplicate", "out_of_area"):
                expected[group][f"excluded:{case['closure']}"] += 1
            else:
                expected[group].update(case["stages"])
    for group in [{"key": "all", **answer}, *answer["groups"]]:
        for stage in group["stages"]:
            where = f"{group_by}={group['key']} {stage['stage']}"
            check_count(stage["count"], expected[group["key"]][stage["stage"]], where)
        for reason, count in group["excluded"].items():
            check_count(count, expected[group["key"]][f"excluded:{reason}"], reason)
    assert {g["key"] for g in answer["groups"]} == set(expected) - {"all"}
    for stage in STAGE_ACTIONS:  # suppression: never exactly one hidden cell in a column
        column = [s["count"] for g in answer["groups"] for s in g["stages"] if s["stage"] == stage]
        overall = next(s["count"] for s in answer["stages"] if s["stage"] == stage)
        if overall not in ("<5", "*"):
            assert sum(c in ("<5", "*") for c in column) != 1


def check_moj(reader: Api, cases: dict[Any, dict[str, Any]]) -> None:
    quarters = {(c["day"].year, (c["day"].month - 1) // 3 + 1) for c in cases.values()}
    for year, number in quarters:
        answer = ok(reader.get("/api/reports/moj-return", params={"quarter": f"{year}Q{number}"}))
        start = date(year, 3 * number - 2, 1)
        received = Counter(
            c["source"] for c in cases.values()
            if start <= c["day"] and (c["day"].month - 1) // 3 + 1 == number
            and c["day"].year == year
        )  # fmt: skip
        for source, count in received.items():
            check_count(answer["received_by_source"][source], count, f"received {source}")


@pytest.mark.parametrize("_", [None])
def test_report_figures_equal_a_recount_from_the_audit_events(
    _: None,
    sign_in: Any,
    clock: FakeClock,
    session_factory: sessionmaker[Session],
    settings: Settings,
) -> None:
    class Workers(dict[str, Api]):  # a provider's worker, signed in when first needed
        def __missing__(self, code: str) -> Api:
            self[code] = sign_in("provider", code)
            return self[code]

    @hypothesis_settings(
        max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(plans)
    def examples(drawn: list[dict[str, Any]]) -> None:
        since = clock().astimezone(LONDON).date()
        for plan in drawn:
            clock.advance(hours=plan["hours"])  # tokens last hours: sign in after moving on
            build(plan, sign_in("triage"), Workers(), clock)
        reader = sign_in("commissioner")
        cases = recount(session_factory)
        # This example's cohort: the referrals received since it began.
        cohort = {k: c for k, c in cases.items() if c["day"] >= since}
        for group_by in ("crime_type", "source", "month", "area"):
            check_conversion(reader, cohort, group_by, since)
        first = next(iter(cohort.values()))
        for where in ({"area": first["area"]}, {"crime_type": first["crime_type"]},
                      {"area": first["area"], "crime_type": first["crime_type"]}):  # fmt: skip
            check_conversion(reader, cohort, "month", since, **where)
        check_slices(session_factory, since)
        check_moj(reader, cases)
        happened = activity(session_factory)
        check_activity(reader, happened, since)
        check_raw(session_factory, happened, since)

    examples()
    with session_factory() as session:
        kept = _nonzero(session)
    fold.rebuild(session_factory, now=clock(), settings=settings)
    with session_factory() as session:
        assert _nonzero(session) == kept


def _nonzero(session: Session) -> set[tuple[Any, ...]]:
    return {
        (r.measure, r.period, r.period_start, r.key, r.subkey, r.count)
        for r in session.scalars(select(ReportCount).where(ReportCount.count != 0))
    }
