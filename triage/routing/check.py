"""`triage rules check`: everything about a rule set that a schema alone cannot see (pure).

Problems name the file, the rule and the field: unknown providers and areas, rules sharing a
priority, rules that can never match (or never offer anyone), and referral shapes (crime type
x age x area x risk) that no rule covers.
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from triage.lifecycle.codes import CrimeType
from triage.routing.engine import (
    CompiledRule,
    Engine,
    ProviderStatus,
    RoutingInput,
    skip_reason,
    statuses_from_directory,
)
from triage.routing.rules import RISK_CONDITIONS, RuleSet

MAX_LISTED_GAPS = 20


@dataclass(frozen=True)
class CheckReport:
    rule_set: RuleSet
    shapes_checked: int
    problems: list[str]


def check_rule_set(rule_set: RuleSet) -> CheckReport:
    """Every problem of a loaded rule set, and how many referral shapes were covered."""
    routing_file, providers_file = rule_set.routing_path, rule_set.directory_path
    problems = list(_reference_problems(rule_set, routing_file, providers_file))
    if problems:  # later checks assume every reference resolves
        return CheckReport(rule_set=rule_set, shapes_checked=0, problems=problems)
    statuses = statuses_from_directory(rule_set)
    ages = representative_ages(rule_set)
    engine = Engine(rule_set)
    problems += _priority_problems(rule_set, routing_file)
    for rule in engine.rules:
        if not any(
            _offers_someone(rule, shape, statuses) for shape in _shapes_for(rule, rule_set, ages)
        ):
            problems.append(
                f"{routing_file}: rule {rule.id!r}: can never match a referral that one of its "
                f"providers {list(rule.providers)} can take (check its conditions against the "
                "providers' ages, areas and crime types)"
            )
    gaps, shapes = _coverage_gaps(engine, rule_set, statuses, ages)
    if gaps:
        listed = "; ".join(gaps[:MAX_LISTED_GAPS])
        more = f" (and {len(gaps) - MAX_LISTED_GAPS} more)" if len(gaps) > MAX_LISTED_GAPS else ""
        problems.append(
            f"{routing_file}: {len(gaps)} referral shape(s) no rule covers: {listed}{more}"
        )
    return CheckReport(rule_set=rule_set, shapes_checked=shapes, problems=problems)


def _reference_problems(
    rule_set: RuleSet, routing_file: Path, providers_file: Path
) -> Iterator[str]:
    routing, directory = rule_set.routing, rule_set.directory
    codes = {p.code for p in directory.providers}
    areas = set(routing.areas)
    if routing.rule_set != directory.rule_set:
        yield (
            f"{providers_file}: field rule_set: {directory.rule_set!r} "
            f"is not routing.toml's {routing.rule_set!r}"
        )
    if set(directory.areas) != areas:
        yield (
            f"{providers_file}: field areas: {sorted(directory.areas)} "
            f"differ from routing.toml's {sorted(areas)}"
        )
    seen: set[str] = set()
    listed: dict[str, str] = {}
    for provider in directory.providers:
        if provider.code in seen:
            yield f"{providers_file}: provider {provider.code!r}: code used twice"
        seen.add(provider.code)
        if provider.oruk_id is not None:
            if provider.oruk_id in listed:
                yield (
                    f"{providers_file}: provider {provider.code!r} field oruk_id: the same "
                    f"service as provider {listed[provider.oruk_id]!r} (one entry per service)"
                )
            listed.setdefault(provider.oruk_id, provider.code)
        for area in sorted(set(provider.areas) - areas):
            yield f"{providers_file}: provider {provider.code!r} field areas: unknown area {area!r}"
    if routing.fallback is not None and routing.fallback not in codes:
        yield f"{routing_file}: field fallback: unknown provider {routing.fallback!r}"
    ids: set[str] = set()
    for rule in routing.rules:
        if rule.id in ids:
            yield f"{routing_file}: rule {rule.id!r}: id used twice"
        ids.add(rule.id)
        for code in rule.providers:
            if code not in codes:
                yield f"{routing_file}: rule {rule.id!r} field providers: unknown provider {code!r}"
        for area in sorted(set(rule.areas or ()) - areas):
            yield f"{routing_file}: rule {rule.id!r} field areas: unknown area {area!r}"


def _priority_problems(rule_set: RuleSet, routing_file: Path) -> list[str]:
    problems = []
    rules = sorted(rule_set.routing.rules, key=lambda r: (r.priority, r.id))
    for _, group in itertools.groupby(rules, key=lambda r: r.priority):
        same = list(group)
        if len(same) > 1:
            names = ", ".join(repr(r.id) for r in same)
            problems.append(
                f"{routing_file}: rules {names} field priority: {same[0].priority} is shared; "
                "give each rule its own priority so their order is stated"
            )
    return problems


def representative_ages(rule_set: RuleSet) -> list[int | None]:
    """One age on each side of every age boundary any rule or provider draws, and unknown."""
    bounds = {0, 120}
    for rule in rule_set.routing.rules:
        for age in (rule.min_age, rule.max_age):
            if age is not None:
                bounds |= {age, age - 1, age + 1}
    for provider in rule_set.directory.providers:
        for age in (provider.min_age, provider.max_age, provider.care_leaver_max_age):
            if age is not None:
                bounds |= {age, age - 1, age + 1}
    return [None, *sorted(a for a in bounds if 0 <= a <= 120)]


def _shapes_for(
    rule: CompiledRule, rule_set: RuleSet, ages: list[int | None]
) -> Iterator[RoutingInput]:
    """Referrals that satisfy every condition of `rule`, one per combination that matters."""
    crime_types = (
        sorted(rule.crime_types) if rule.crime_types is not None else [c.value for c in CrimeType]
    )
    areas = sorted(rule.areas) if rule.areas is not None else rule_set.routing.areas
    risks = sorted(rule.risk_levels) if rule.risk_levels is not None else list(RISK_CONDITIONS)
    strands = (
        [frozenset({s}) for s in sorted(rule.hate_strands)]
        if rule.hate_strands is not None
        else [frozenset()]
    )
    flags = (
        [frozenset({f}) for f in sorted(rule.vulnerability)]
        if rule.vulnerability is not None
        else [frozenset()]
    )
    needs = (
        [frozenset({n}) for n in sorted(rule.needs)] if rule.needs is not None else [frozenset()]
    )
    leavers = [rule.care_leaver] if rule.care_leaver is not None else [False, True]
    rj = rule.rj if rule.rj is not None else False
    for crime, age, area, risk, strand, flag, need, leaver in itertools.product(
        crime_types, ages, areas, risks, strands, flags, needs, leavers
    ):
        shape = RoutingInput(
            crime_type=crime,
            area=area,
            age=age,
            hate_strands=strand,
            care_leaver=leaver,
            risk_level=None if risk == "none" else risk,
            vulnerability=flag,
            restorative_justice_interest=rj,
            needs=need,
        )
        if rule.matches(shape):
            yield shape


def _offers_someone(
    rule: CompiledRule, shape: RoutingInput, statuses: dict[str, ProviderStatus]
) -> bool:
    return any(skip_reason(statuses.get(code), shape) is None for code in rule.providers)


def _coverage_gaps(
    engine: Engine, rule_set: RuleSet, statuses: dict[str, ProviderStatus], ages: list[int | None]
) -> tuple[list[str], int]:
    gaps, shapes = [], 0
    for crime, age, area, risk in itertools.product(
        [c.value for c in CrimeType], ages, rule_set.routing.areas, RISK_CONDITIONS
    ):
        shapes += 1
        shape = RoutingInput(
            crime_type=crime, area=area, age=age, risk_level=None if risk == "none" else risk
        )
        if not engine.decide(shape, statuses).candidates:
            shown_age = "unknown" if age is None else age
            gaps.append(f"crime_type={crime} age={shown_age} area={area} risk={risk}")
    return gaps, shapes
