"""The case page: the triage unit works a referral from contact to an offer; the provider
answers it; each form posts into the API's own model and service."""

from tests.api.flows import contacting, offered
from tests.support import Api
from tests.web.browser import text_of
from tests.web.conftest import Visit


def test_the_unit_works_a_referral_from_contact_to_an_offer(person: Visit, triage: Api) -> None:
    created = triage.create(crime_type="domestic_abuse")
    unit = person("triage")
    path = f"/referrals/{created['id']}"
    page = unit.get(path)
    assert page.status_code == 200, page.text
    words = text_of(page.text)
    assert "Contact them only by: phone" in words
    assert words.index("Contact them only by") < words.index("Record a contact attempt")
    assert "Next step: Contact the victim" in words
    assert "govuk-form-group--error" not in page.text and "Error:" not in words

    page = unit.follow(unit.submit(page, f"{path}/events/log_contact_attempt",
                                   channel="phone", outcome="no_answer"))  # fmt: skip
    assert "No answer" in text_of(page.text)
    page = unit.follow(unit.submit(page, f"{path}/events/contact_made", channel="phone"))
    assert "Next step: Record the needs assessment" in text_of(page.text)

    answers = {f"dash-{n}": "yes" if n <= 15 else "no" for n in range(1, 25)}
    page = unit.follow(unit.submit(
        page, f"{path}/assessment", needs=["emotional_support"], share_with_provider="yes",
        method="verbal", restorative_justice_interest="no", care_leaver="no", **answers,
    ))  # fmt: skip
    words = text_of(page.text)
    assert "High (DASH score 15)" in words
    assert "Next step: Offer the referral to a provider" in words
    assert "Who the rules choose, in order" in words

    page = unit.follow(unit.submit(page, f"{path}/events/route"))
    words = text_of(page.text)
    assert "Waiting for a provider" in words
    assert "Offered to a provider" in words  # the timeline


def test_the_provider_sees_no_person_before_accepting_then_closes_with_outcomes(
    person: Visit, triage: Api
) -> None:
    ref = offered(triage, "core-general")
    worker = person("provider", "core-general")
    offers = worker.get("/offers")
    assert ref["reference"] in text_of(offers.text)
    path = f"/referrals/{ref['id']}"
    page = worker.get(path)
    words = text_of(page.text)
    for private in ("Olivia Hartley", "1990", "07700 900123", "Friar Gate", "DE1 1BX"):
        assert private not in words
    assert "Answer by" in words

    page = worker.follow(worker.submit(page, f"{path}/events/accept"))
    words = text_of(page.text)
    assert "Olivia Hartley" in words and "07700 900123" in words

    refused = worker.submit(page, f"{path}/events/close", reason="support_completed")
    assert refused.status_code == 400
    assert "Answer at least one outcome" in text_of(refused.text)
    assert 'href="#close-outcomes"' in refused.text and 'id="close-outcomes"' in refused.text

    page = worker.follow(worker.submit(page, f"{path}/events/close", reason="support_completed",
                                       **{"outcome-feel_safer": "yes",
                                          "outcome-satisfied": "no"}))  # fmt: skip
    assert "feels safer yes, satisfied with the service no" in text_of(page.text)
    closed = triage.get(f"/api/referrals/{ref['id']}").json()
    assert closed["outcomes"] == {"feel_safer": True, "satisfied": False}


def test_a_decline_returns_the_provider_to_its_offers(person: Visit, triage: Api) -> None:
    ref = offered(triage, "core-general")
    worker = person("provider", "core-general")
    path = f"/referrals/{ref['id']}"
    page = worker.get(path)
    missing_note = worker.submit(page, f"{path}/events/decline", reason="other")
    assert missing_note.status_code == 400
    assert 'href="#decline-note"' in missing_note.text
    answer = worker.submit(page, f"{path}/events/decline", reason="no_capacity")
    assert answer.headers["location"] == "/offers?done=decline"
    assert worker.get(path).status_code == 404  # no longer offered to it


def test_another_providers_referral_page_is_not_found(person: Visit, triage: Api) -> None:
    ref = offered(triage, "core-general")
    other = person("provider", "da-idva")
    assert other.get(f"/referrals/{ref['id']}").status_code == 404


def test_a_stale_form_changes_nothing_and_says_why(person: Visit, triage: Api) -> None:
    ref = contacting(triage)
    unit = person("triage")
    path = f"/referrals/{ref['id']}"
    page = unit.get(path)
    triage.event(ref["id"], "log_contact_attempt", ref["version"], channel="phone",
                 outcome="no_answer")  # fmt: skip
    answer = unit.submit(page, f"{path}/events/contact_made", channel="phone")
    assert answer.status_code == 409
    assert "Someone else changed the referral" in text_of(answer.text)


def test_a_form_without_its_csrf_token_is_refused(person: Visit, triage: Api) -> None:
    ref = contacting(triage)
    unit = person("triage")
    path = f"/referrals/{ref['id']}"
    answer = unit.client.post(f"{path}/events/contact_made",
                              data={"version": ref["version"], "channel": "phone"})  # fmt: skip
    assert answer.status_code == 403
    assert triage.get(f"/api/referrals/{ref['id']}").json()["state"] == "contacting"
