"""Codes as people read them: `harassment_stalking` is "Harassment or stalking"."""

import re
from collections.abc import Iterable

# Where a code's words are not just the code with spaces.
WORDS = {
    # crime types
    "harassment_stalking": "Harassment or stalking",
    "homicide_bereavement": "Homicide (bereaved family)",
    "gbh_with_intent": "GBH with intent",
    "kidnap_false_imprisonment": "Kidnap or false imprisonment",
    "arson_endangering_life": "Arson endangering life",
    "child_sexual_exploitation": "Child sexual exploitation",
    # hate strands
    "sexual_orientation": "Sexual orientation",
    # states
    "awaiting_provider": "Waiting for a provider",
    "in_support": "In support",
    # sources
    "self_referral": "Self-referral",
    "partner_agency": "Partner agency",
    # areas
    "derby_city": "Derby City",
    "derbyshire_county": "Derbyshire County",
    # needs (the EU Victims' Directive list)
    "justice_system_information": "Information about the justice system",
    "information_on_rights": "Information on their rights",
    "compensation": "Help to claim compensation",
    "trial_preparation": "Preparing for court",
    "emotional_support": "Emotional support",
    "practical_financial": "Practical or financial help",
    "repeat_victimisation_risk": "Protection from repeat victimisation",
    "specialist_service": "A specialist service",
    # vulnerability
    "mental_disorder": "Has a mental disorder",
    "impaired_intelligence": "Has impaired intelligence or social functioning",
    "physical_disability": "Has a physical disability",
    "intimidated": "Is intimidated",
    "persistently_targeted": "Is persistently targeted",
    "bereaved": "Is a bereaved family member",
    # contact
    "in_person": "In person",
    "sms": "Text message",
    "no_answer": "No answer",
    "voicemail_left": "Voicemail left",
    "message_sent": "Message sent",
    "wrong_number": "Wrong number",
    "unsafe": "Not safe to talk",
    # reasons
    "no_capacity": "No capacity",
    "not_eligible_for_service": "Not eligible for the service",
    "outside_area": "Outside our area",
    "victim_declined_provider": "Victim declined the service",
    "unsafe_to_contact": "Not safe to contact",
    "duplicate_of_open_case": "Duplicate of an open case",
    "no_response": "No answer in time",
    "victim_declined": "Victim declined support",
    "uncontactable": "Could not be contacted",
    "not_eligible": "Not eligible",
    "information_only": "Information only",
    "out_of_area": "Out of area",
    "support_completed": "Support completed",
    "moved_away": "Moved away",
    # outcomes
    "better_able_to_cope": "Better able to cope",
    "feel_safer": "Feels safer",
    "better_informed": "Better informed",
    "satisfied": "Satisfied with the service",
    # Victims' Code
    "not_applicable": "Does not apply",
    "not_tracked": "Not tracked here",
    "standard_victim": "not an enhanced victim",
    "crime_not_reported": "crime not reported",
    "opted_out": "victim opted out",
    "no_consent": "no consent",
    "clock_not_started": "clock not started",
    "hate_crime": "Hate crime",
    "under_18": "Under 18",
    # events
    "log_contact_attempt": "Record a contact attempt",
    "contact_made": "Record contact made",
    "route": "Offer to a provider",
    "accept": "Accept",
    "decline": "Decline",
    "hand_back": "Hand back to the unit",
    "close": "Close the referral",
    "consent_withdrawn": "Consent withdrawn",
}


# What happened, for the timeline (an event's label above says what to do).
DONE = {
    "create": "Referral received",
    "log_contact_attempt": "Contact attempt recorded",
    "contact_made": "Contact made",
    "assessment": "Needs assessment recorded",
    "consent": "Consent to share changed",
    "route": "Offered to a provider",
    "accept": "Accepted by the provider",
    "decline": "Declined by the provider",
    "expire": "Offer expired unanswered",
    "hand_back": "Handed back by the provider",
    "close": "Closed",
    "consent_withdrawn": "Offer withdrawn: consent withdrawn",
    "vcop_enhanced": "Victims' Code rights changed",
    "alert_acknowledged": "Alert acknowledged",
}


def done(action: object) -> str:
    """An audited action in the past tense: `accept` is "Accepted by the provider"."""
    return DONE.get(str(action)) or label(action)


def label(code: object) -> str:
    """A code in words: its own entry, else the code with spaces and a capital."""
    if code is None:
        return ""
    text = str(code)
    if text in WORDS:
        return WORDS[text]
    if re.fullmatch(r"\d+-\d+", text):  # an age band
        return text.replace("-", " to ")
    words = text.replace("_", " ").replace("-", " ")
    return words[:1].upper() + words[1:]


def options(codes: Iterable[object]) -> list[tuple[str, str]]:
    """(code, words) for a select or radios, in the order given."""
    return [(str(code), label(code)) for code in codes]
