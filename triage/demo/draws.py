"""What a simulated referral is drawn from: how often each crime, source, age and answer
comes, in the proportions a triage unit sees (synthetic; weights, not real figures)."""

from itertools import accumulate

from triage.lifecycle.codes import CrimeType, HateStrand, Need, Outcome

CRIMES = [
    (CrimeType.violence, 22), (CrimeType.domestic_abuse, 18), (CrimeType.theft, 12),
    (CrimeType.burglary, 9), (CrimeType.criminal_damage, 8), (CrimeType.harassment_stalking, 8),
    (CrimeType.sexual_offence, 6), (CrimeType.fraud, 5), (CrimeType.robbery, 4),
    (CrimeType.public_order, 4), (CrimeType.child_sexual_exploitation, 1), (CrimeType.other, 3),
    (CrimeType.gbh_with_intent, 1), (CrimeType.homicide_bereavement, 0.2),
    (CrimeType.modern_slavery, 0.2), (CrimeType.kidnap_false_imprisonment, 0.2),
]  # fmt: skip
CRIME_TYPES = [crime.value for crime, _ in CRIMES]
CRIME_WEIGHTS_SUMMED = list(accumulate(weight for _, weight in CRIMES))
SOURCES = ["police"] * 41 + ["self_referral"] * 4 + ["partner_agency"] * 4 + ["other"]
HATE_STRANDS = [strand.value for strand in HateStrand]
# Cumulative weights, as `choices` makes them from plain weights on each call (the same draws).
HATE_STRAND_WEIGHTS_SUMMED = list(accumulate([50, 15, 14, 12, 5, 4]))
# (youngest, oldest, weight)
AGE_BANDS = [(12, 15, 4), (16, 17, 4), (18, 24, 15), (25, 34, 22), (35, 49, 26),
             (50, 64, 18), (65, 90, 11)]  # fmt: skip
AGE_BAND_WEIGHTS_SUMMED = list(accumulate(weight for _, _, weight in AGE_BANDS))
NEEDS = [need.value for need in Need]
# How often each vulnerability flag is set, in the order of VULNERABILITY_FLAGS.
VULNERABILITY_ODDS = (0.08, 0.02, 0.04, 0.1, 0.06, 0.01)
DECLINE_REASONS = ["no_capacity"] * 7 + ["not_eligible_for_service"] * 4 + [
    "victim_declined_provider"] * 5 + ["outside_area", "unsafe_to_contact",
    "duplicate_of_open_case", "other"]  # fmt: skip
HAND_BACK_REASONS = ["victim_declined_provider"] * 3 + ["not_eligible_for_service", "other"]
ATTEMPT_OUTCOMES = ["no_answer"] * 11 + ["voicemail_left"] * 6 + ["message_sent"] * 2 + [
    "wrong_number"]  # fmt: skip
# Each cope-and-recover outcome measure with how often it is reported.
OUTCOME_ODDS = tuple(zip((o.value for o in Outcome), (0.8, 0.7, 0.85, 0.9), strict=True))
CONSENT_METHODS = ("verbal", "verbal", "written", "electronic")
SAFE_TIMES = (None, "weekdays 09:00-12:00", "evenings only")
