"""The routing decision: a pure function from an assessed referral to ordered candidates.

Rules are compiled once into plain slotted objects so that a decision costs a few
microseconds (benchmarks/routing.py). Nothing here reads a clock or a database.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from triage.routing.rules import Rule, RuleSet

FALLBACK_RULE = "fallback"


@dataclass(frozen=True, slots=True)
class RoutingInput:
    """What routing may know about a referral (no name, no contact details)."""

    crime_type: str
    area: str
    age: int | None = None
    hate_strands: frozenset[str] = frozenset()
    care_leaver: bool = False
    risk_level: str | None = None
    vulnerability: frozenset[str] = frozenset()
    restorative_justice_interest: bool = False
    needs: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """A provider as routing sees it: static limits and live availability."""

    code: str
    areas: frozenset[str]
    min_age: int | None = None
    max_age: int | None = None
    care_leaver_max_age: int | None = None
    crime_types: frozenset[str] = frozenset()
    hate_strands: frozenset[str] = frozenset()
    accepting: bool = True
    capacity: int | None = None
    load: int = 0

    @classmethod
    def of(cls, provider: Any, *, load: int = 0) -> "ProviderStatus":
        """From a directory entry or a stored provider (the same attribute names)."""
        return cls(
            code=provider.code,
            areas=frozenset(provider.areas),
            min_age=provider.min_age,
            max_age=provider.max_age,
            care_leaver_max_age=provider.care_leaver_max_age,
            crime_types=frozenset(str(c) for c in provider.crime_types),
            hate_strands=frozenset(str(s) for s in provider.hate_strands),
            accepting=provider.accepting,
            capacity=provider.capacity,
            load=load,
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    provider: str
    rule: str
    why: str


@dataclass(frozen=True, slots=True)
class Skip:
    provider: str
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    rule_set_version: str
    rule_set_hash: str
    candidates: tuple[Candidate, ...]
    skipped: tuple[Skip, ...]
    matched_rules: tuple[str, ...]
    no_route_reason: str | None

    @property
    def first(self) -> str | None:
        return self.candidates[0].provider if self.candidates else None


class CompiledRule:
    __slots__ = (
        "id",
        "priority",
        "why",
        "providers",
        "crime_types",
        "hate_strands",
        "min_age",
        "max_age",
        "care_leaver",
        "areas",
        "risk_levels",
        "vulnerability",
        "rj",
        "needs",
        "has_age",
    )

    def __init__(self, rule: Rule) -> None:
        def optional_set(values: Iterable[str] | None) -> frozenset[str] | None:
            return None if values is None else frozenset(str(v) for v in values)

        self.id, self.priority, self.why = rule.id, rule.priority, rule.why
        self.providers = tuple(rule.providers)
        self.crime_types = optional_set(rule.crime_types)
        self.hate_strands = optional_set(rule.hate_strands)
        self.min_age, self.max_age = rule.min_age, rule.max_age
        self.has_age = rule.min_age is not None or rule.max_age is not None
        self.care_leaver = rule.care_leaver
        self.areas = optional_set(rule.areas)
        self.risk_levels = optional_set(rule.risk_levels)
        self.vulnerability = optional_set(rule.vulnerability)
        self.rj = rule.restorative_justice_interest
        self.needs = optional_set(rule.needs)

    def matches(self, r: RoutingInput) -> bool:
        if self.crime_types is not None and r.crime_type not in self.crime_types:
            return False
        if self.hate_strands is not None and self.hate_strands.isdisjoint(r.hate_strands):
            return False
        if self.has_age:
            if r.age is None:
                return False
            if self.min_age is not None and r.age < self.min_age:
                return False
            if self.max_age is not None and r.age > self.max_age:
                return False
        if self.care_leaver is not None and r.care_leaver != self.care_leaver:
            return False
        if self.areas is not None and r.area not in self.areas:
            return False
        if self.risk_levels is not None and (r.risk_level or "none") not in self.risk_levels:
            return False
        if self.vulnerability is not None and self.vulnerability.isdisjoint(r.vulnerability):
            return False
        if self.rj is not None and r.restorative_justice_interest != self.rj:
            return False
        return not (self.needs is not None and self.needs.isdisjoint(r.needs))


def skip_reason(provider: ProviderStatus | None, r: RoutingInput) -> str | None:
    """Why this provider cannot be offered this referral now, or None when it can."""
    if provider is None:
        return "unknown_provider"
    if not provider.accepting:
        return "not_accepting"
    if r.area not in provider.areas:
        return "outside_area"
    if provider.min_age is not None and (r.age is None or r.age < provider.min_age):
        return "outside_age"
    if provider.max_age is not None:
        limit = provider.max_age
        if r.care_leaver and provider.care_leaver_max_age is not None:
            limit = max(limit, provider.care_leaver_max_age)
        if r.age is None or r.age > limit:
            return "outside_age"
    if provider.crime_types and r.crime_type not in provider.crime_types:
        return "crime_type_not_taken"
    if provider.hate_strands and provider.hate_strands.isdisjoint(r.hate_strands):
        return "crime_type_not_taken"
    if provider.capacity is not None and provider.load >= provider.capacity:
        return "at_capacity"
    return None


class Engine:
    """A rule set compiled for deciding."""

    def __init__(self, rule_set: RuleSet) -> None:
        self.version = rule_set.version
        self.hash = rule_set.hash
        self.rules = tuple(
            CompiledRule(rule) for rule in sorted(rule_set.routing.rules, key=lambda r: r.priority)
        )
        self.fallback = rule_set.routing.fallback

    def decide(
        self,
        referral: RoutingInput,
        providers: Mapping[str, ProviderStatus],
        excluded: Mapping[str, str] | None = None,
    ) -> Decision:
        """Candidates in order, each with its rule; skips with reasons.

        `excluded` maps a provider code to why it may not be offered this referral again
        under this rule set (`already_declined`, `handed_back`, `expired`).
        """
        excluded = excluded or {}
        seen: set[str] = set()
        candidates: list[Candidate] = []
        skipped: list[Skip] = []
        matched: list[str] = []
        offers = [
            (rule.id, rule.why, rule.providers) for rule in self.rules if rule.matches(referral)
        ]
        matched = [rule_id for rule_id, _, _ in offers]
        if self.fallback is not None:
            offers.append(
                (FALLBACK_RULE, "the general CORE service, everyone's fallback", (self.fallback,))
            )
        for rule_id, why, codes in offers:
            for code in codes:
                if code in seen:
                    continue
                seen.add(code)
                reason = excluded.get(code) or skip_reason(providers.get(code), referral)
                if reason is None:
                    candidates.append(Candidate(code, rule_id, why))
                else:
                    skipped.append(Skip(code, rule_id, reason))
        no_route = None
        if not candidates:
            no_route = "all_candidates_skipped" if skipped else "no_rule_matched"
        return Decision(
            rule_set_version=self.version,
            rule_set_hash=self.hash,
            candidates=tuple(candidates),
            skipped=tuple(skipped),
            matched_rules=tuple(matched),
            no_route_reason=no_route,
        )


def statuses_from_directory(rule_set: RuleSet) -> dict[str, ProviderStatus]:
    """Provider statuses straight from the rule files (defaults, no live load)."""
    return {p.code: ProviderStatus.of(p) for p in rule_set.directory.providers}
