"""The triage unit's pages: the queue (urgency order, filters, search), a new referral with
its checks and "Check your answers", the alerts, and a referral given back."""

from tests.api.flows import assessing, ok
from tests.support import Api, FakeClock
from tests.web.browser import text_of
from tests.web.conftest import Visit
from triage.config import Settings
from triage.deadlines.sweeps import alert_returned

NEW = {
    "source": "police", "external_ref": "DP-26-771100", "crime_type": "harassment_stalking",
    "area": "derby_city", "victim.full_name": "Nia Okafor",
    "victim.date_of_birth-day": "2", "victim.date_of_birth-month": "4",
    "victim.date_of_birth-year": "1990", "victim.phone": "07700 900456",
    "victim.safe_channels": ["phone", "sms"], "victim.safe_times": "after 6pm",
}  # fmt: skip


def test_a_new_referral_is_checked_then_created_once(person: Visit, triage: Api) -> None:
    unit = person("triage")
    page = unit.get("/referrals/new")
    assert ">None<" not in page.text and 'value="None"' not in page.text
    check = unit.submit(page, "/referrals/new", **NEW)
    assert check.status_code == 200, text_of(check.text)[:500]
    words = text_of(check.text)
    assert "Check your answers before creating the referral" in words
    assert "Harassment or stalking" in words and "Phone, Text message" in words
    created = unit.submit(check, "/referrals/new/confirm")
    again = unit.submit(check, "/referrals/new/confirm")  # a second click: the same referral
    assert created.headers["location"] == again.headers["location"]
    page = unit.follow(created)
    assert "created" in text_of(page.text)
    found = unit.get("/queue", params={"q": "Nia Okafor"})
    assert "1 open referral found" in text_of(found.text)


def test_a_new_referral_with_mistakes_says_each_beside_its_field(person: Visit) -> None:
    unit = person("triage")
    page = unit.get("/referrals/new")
    answer = unit.submit(page, "/referrals/new", **{
        **NEW, "victim.full_name": "", "victim.postcode": "nowhere",
        "victim.date_of_birth-month": "13", "crime_type": ""})  # fmt: skip
    assert answer.status_code == 400
    words = text_of(answer.text)
    for message in ("Enter the victim's full name", "Enter a real postcode, like DE1 2AB",
                    "Date of birth must be a real date", "Select the crime type"):  # fmt: skip
        assert message in words
    for anchor in ("#victim-full_name", "#victim-postcode", "#victim-date_of_birth-day",
                   "#crime_type"):  # fmt: skip
        assert f'href="{anchor}"' in answer.text
    assert "Nia" not in words  # the name was blanked; nothing else is lost
    assert "07700 900456" in answer.text


def test_one_field_is_checked_as_it_is_left(person: Visit) -> None:
    unit = person("triage")
    page = unit.get("/referrals/new")
    answer = unit.submit(page, "/referrals/new", **NEW)
    form = unit.get("/referrals/new")
    checked = unit.submit(form, "/referrals/new", **{**NEW, "change": "victim.phone"})
    assert checked.status_code == 200 and answer.status_code == 200
    field = unit.client.post("/referrals/new/field/victim.phone",
                             data={"csrf_token": _csrf(page.text),
                                   "victim.phone": "call me"})  # fmt: skip
    assert field.status_code == 200
    assert 'id="group-victim-phone"' in field.text
    assert "Enter a phone number" in field.text
    assert "<html" not in field.text  # only the field's group


def test_the_queue_puts_a_given_back_referral_first_and_finds_by_name(
    person: Visit, triage: Api, sign_in, clock: FakeClock, session_factory, settings: Settings
) -> None:
    for name in ("Ada Brook", "Cole Dunn"):
        triage.create(victim={"full_name": name, "safe_channels": ["phone"]})
    general = sign_in("provider", provider="core-general")
    ref = ok(triage.event((r := assessing(triage))["id"], "route", r["version"]))
    clock.advance(hours=1)
    ok(general.event(ref["id"], "decline", ref["version"], reason="not_eligible_for_service"))
    alert_returned(session_factory, now=clock(), settings=settings)
    unit = person("triage")
    queue = unit.get("/queue")
    words = text_of(queue.text)
    assert words.index(ref["reference"]) < words.index("Ada Brook")
    assert "Given back" in words
    alerts = unit.get("/alerts")
    assert "Returned to unit" in text_of(alerts.text) and ref["reference"] in alerts.text
    found = unit.get("/queue", params={"q": "Cole Dunn"})
    assert "Cole Dunn" in text_of(found.text) and "Ada Brook" not in text_of(found.text)
    by_reference = unit.get("/queue", params={"q": ref["reference"]})
    assert "1 open referral found" in text_of(by_reference.text)

    case = unit.get(f"/referrals/{ref['id']}")
    assert "Returned to unit" in text_of(case.text)
    alert_form = next(a for a in case.text.split('action="') if a.startswith("/alerts/"))
    action = alert_form.split('"')[0]
    back = unit.submit(case, action)
    assert back.headers["location"] == f"/referrals/{ref['id']}"
    assert "Returned to unit" not in text_of(unit.get("/alerts").text)


def test_the_queue_filters_by_crime_type(person: Visit, triage: Api) -> None:
    triage.create(crime_type="theft", victim={"full_name": "Theo Hale", "safe_channels": []})
    triage.create(crime_type="burglary", victim={"full_name": "Bea Moss", "safe_channels": []})
    page = person("triage").get("/queue", params={"crime_type": "theft"})
    words = text_of(page.text)
    assert "Theo Hale" in words and "Bea Moss" not in words


def _csrf(html: str) -> str:
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
