"""The lifecycle's vocabulary: states, events and coded reasons (DESIGN section 3)."""

from enum import StrEnum


class State(StrEnum):
    received = "received"
    contacting = "contacting"
    assessing = "assessing"
    awaiting_provider = "awaiting_provider"
    in_support = "in_support"
    closed = "closed"


OPEN_STATES = frozenset(State) - {State.closed}


class Event(StrEnum):
    log_contact_attempt = "log_contact_attempt"
    contact_made = "contact_made"
    route = "route"
    accept = "accept"
    decline = "decline"
    expire = "expire"
    hand_back = "hand_back"
    close = "close"
    # Fired by the service when consent is withdrawn while an offer is open (DESIGN 7).
    consent_withdrawn = "consent_withdrawn"


class Role(StrEnum):
    triage = "triage"
    provider = "provider"
    commissioner = "commissioner"
    admin = "admin"
    intake = "intake"
    # The service itself (deadline sweeps): never a user's role, never fires over HTTP.
    system = "system"


# Who may fire what over HTTP. `expire` and `consent_withdrawn` belong to the service itself.
EVENTS_BY_ROLE: dict[Role, frozenset[Event]] = {
    Role.triage: frozenset(
        {Event.log_contact_attempt, Event.contact_made, Event.route, Event.close}
    ),
    Role.provider: frozenset({Event.accept, Event.decline, Event.hand_back, Event.close}),
}
HTTP_EVENTS = frozenset().union(*EVENTS_BY_ROLE.values())


class ClosureReason(StrEnum):
    victim_declined = "victim_declined"
    uncontactable = "uncontactable"
    unsafe_to_contact = "unsafe_to_contact"
    not_eligible = "not_eligible"
    duplicate = "duplicate"
    withdrawn = "withdrawn"
    information_only = "information_only"
    out_of_area = "out_of_area"
    support_completed = "support_completed"
    disengaged = "disengaged"
    moved_away = "moved_away"


CLOSURE_REASONS_BEFORE_SUPPORT = frozenset(
    {
        ClosureReason.victim_declined,
        ClosureReason.uncontactable,
        ClosureReason.unsafe_to_contact,
        ClosureReason.not_eligible,
        ClosureReason.duplicate,
        ClosureReason.withdrawn,
        ClosureReason.information_only,
        ClosureReason.out_of_area,
    }
)
CLOSURE_REASONS_IN_SUPPORT = frozenset(
    {
        ClosureReason.support_completed,
        ClosureReason.disengaged,
        ClosureReason.withdrawn,
        ClosureReason.moved_away,
    }
)


class AnswerReason(StrEnum):
    """Coded reasons for `decline`, `hand_back` and `expire`."""

    no_capacity = "no_capacity"
    not_eligible_for_service = "not_eligible_for_service"
    outside_area = "outside_area"
    victim_declined_provider = "victim_declined_provider"
    unsafe_to_contact = "unsafe_to_contact"
    duplicate_of_open_case = "duplicate_of_open_case"
    other = "other"
    no_response = "no_response"


class Outcome(StrEnum):
    """Cope-and-recover outcome measures recorded when support is completed."""

    better_able_to_cope = "better_able_to_cope"
    feel_safer = "feel_safer"
    better_informed = "better_informed"
    satisfied = "satisfied"


class Channel(StrEnum):
    phone = "phone"
    sms = "sms"
    email = "email"
    letter = "letter"
    in_person = "in_person"


class AttemptOutcome(StrEnum):
    no_answer = "no_answer"
    voicemail_left = "voicemail_left"
    message_sent = "message_sent"
    wrong_number = "wrong_number"
    unsafe = "unsafe"


class Need(StrEnum):
    """The EU Victims' Directive (2012/29/EU) minimum services, used as the needs checklist."""

    justice_system_information = "justice_system_information"
    information_on_rights = "information_on_rights"
    compensation = "compensation"
    trial_preparation = "trial_preparation"
    emotional_support = "emotional_support"
    practical_financial = "practical_financial"
    repeat_victimisation_risk = "repeat_victimisation_risk"
    specialist_service = "specialist_service"


# The assessment's vulnerability flags (DESIGN 4), in the order the API lists them.
VULNERABILITY_FLAGS = (
    "mental_disorder",
    "impaired_intelligence",
    "physical_disability",
    "intimidated",
    "persistently_targeted",
    "bereaved",
)


class RiskLevel(StrEnum):
    standard = "standard"
    medium = "medium"
    high = "high"


class ConsentMethod(StrEnum):
    verbal = "verbal"
    written = "written"
    electronic = "electronic"


class CrimeType(StrEnum):
    domestic_abuse = "domestic_abuse"
    sexual_offence = "sexual_offence"
    child_sexual_exploitation = "child_sexual_exploitation"
    violence = "violence"
    robbery = "robbery"
    burglary = "burglary"
    theft = "theft"
    criminal_damage = "criminal_damage"
    fraud = "fraud"
    harassment_stalking = "harassment_stalking"
    homicide_bereavement = "homicide_bereavement"
    modern_slavery = "modern_slavery"
    arson = "arson"
    public_order = "public_order"
    terrorism = "terrorism"
    attempted_murder = "attempted_murder"
    kidnap_false_imprisonment = "kidnap_false_imprisonment"
    gbh_with_intent = "gbh_with_intent"
    arson_endangering_life = "arson_endangering_life"
    other = "other"


# Crimes whose assessment needs a DASH score or a professional judgement (DESIGN 4).
RISK_ASSESSED_CRIMES = frozenset({CrimeType.domestic_abuse, CrimeType.harassment_stalking})


class HateStrand(StrEnum):
    race = "race"
    religion = "religion"
    sexual_orientation = "sexual_orientation"
    disability = "disability"
    transgender = "transgender"
    age = "age"


class Source(StrEnum):
    police = "police"
    self_referral = "self_referral"
    partner_agency = "partner_agency"
    other = "other"


class OfferAnswer(StrEnum):
    accepted = "accepted"
    declined = "declined"
    expired = "expired"
    withdrawn = "withdrawn"
