"""The case page's privacy section (DESIGN 11): lock a referral down and lift it; a subject
access request read as a page and downloaded as JSON; an anonymised referral says so."""

import json
from typing import Any

from tests.api.flows import ok
from tests.support import Api, victim
from tests.web.browser import text_of
from tests.web.conftest import Visit


def test_lock_down_from_the_case_page_then_lift_it(person: Visit, triage: Api) -> None:
    created = triage.create(victim=victim(full_name="Rosalind Pembury"))
    unit, colleague, other = person("triage"), person("triage"), person("triage")
    path = f"/referrals/{created['id']}"
    page = unit.get(path)
    assert "Privacy" in text_of(page.text)

    refused = unit.submit(page, f"{path}/lockdown", users="nobody-at-all", reason="x")
    assert refused.status_code == 400 and "No active user &#39;nobody-at-all&#39;" in refused.text
    page = unit.follow(unit.submit(page, f"{path}/lockdown", users=colleague.username,
                                   reason="a relative works on the unit"))  # fmt: skip
    words = text_of(page.text)
    assert f"Locked down to {', '.join(sorted([colleague.username, unit.username]))}" in words
    assert "a relative works on the unit" in words
    assert other.get(path).status_code == 404
    assert "Rosalind Pembury" not in other.get("/queue").text
    assert "Rosalind Pembury" in colleague.get("/queue").text

    empty = colleague.submit(colleague.get(path), f"{path}/lockdown/lift", reason="")
    assert empty.status_code == 400 and "Say why" in empty.text
    page = colleague.follow(colleague.submit(colleague.get(path), f"{path}/lockdown/lift",
                                             reason="the relative has left"))  # fmt: skip
    assert "Locked down to" not in text_of(page.text)
    assert other.get(path).status_code == 200


def test_a_subject_access_request_as_a_page_and_as_json(person: Visit, triage: Api) -> None:
    created = triage.create(victim=victim(full_name="Barnabas Quill"), notes="Prefers mornings")
    unit = person("triage")
    path = f"/referrals/{created['id']}/subject-access"
    asking = unit.get(path)
    assert asking.status_code == 200 and "Why is it asked for?" in text_of(asking.text)
    assert "Barnabas Quill" not in text_of(asking.text)  # nothing shown before a reason
    assert unit.get(path, params={"reason": "a\tb"}).status_code == 400

    page = unit.get(path, params={"reason": "asked in writing on 4 December"})
    words = text_of(page.text)
    assert "Barnabas Quill" in words and "Prefers mornings" in words
    assert "Consent to share" in words and "Timeline" in words
    assert "Subject access" in words  # this request, in the timeline
    download = unit.get(path, params={"reason": "asked again", "download": "true"})
    assert "attachment" in download.headers["content-disposition"]
    held = json.loads(download.text)
    assert held["referral"]["victim"]["full_name"] == "Barnabas Quill"
    assert held["reason"] == "asked again"
    worker = person("provider", "core-general")
    assert worker.get(path, params={"reason": "x"}).status_code in (403, 404)


def test_an_anonymised_referral_says_so(person: Visit, triage: Api, sign_in: Any) -> None:
    created = triage.create(victim=victim(full_name="Hyacinth Bucket"))
    closed = ok(triage.event(created["id"], "close", created["version"], reason="withdrawn"))
    erase = {"version": closed["version"], "reason": "erasure request"}
    ok(sign_in("admin").post(f"/api/referrals/{created['id']}/erase", erase))
    words = text_of(person("triage").get(f"/referrals/{created['id']}").text)
    assert "Anonymised" in words and "Hyacinth Bucket" not in words


def test_an_admin_erases_a_closed_referral_from_the_erase_page(
    person: Visit, triage: Api, session_factory: Any
) -> None:
    from tests.api.flows import found_anywhere

    created = triage.create(victim=victim(full_name="Evangeline Scarsdale"))
    admin = person("admin")
    assert "Erase a referral" in text_of(admin.get("/admin/users").text)
    still_open = admin.get("/admin/erase", params={"reference": created["reference"]})
    assert "ask the triage unit to close it" in text_of(still_open.text)
    assert "Evangeline" not in still_open.text  # the page shows no personal data
    assert admin.get("/admin/erase", params={"reference": "VR-26-AAAAAAAA"}).status_code == 400

    ok(triage.event(created["id"], "close", created["version"], reason="withdrawn"))
    page = admin.get("/admin/erase", params={"reference": created["reference"]})
    no_reason = admin.submit(page, "/admin/erase", reason="")
    assert no_reason.status_code == 409 and "Say why" in no_reason.text
    done = admin.follow(admin.submit(page, "/admin/erase", reason="erasure request, 5 Dec"))
    assert f"{created['reference']} erased" in text_of(done.text)
    assert found_anywhere(session_factory, ["Evangeline Scarsdale"]) == []
    again = admin.submit(page, "/admin/erase", reason="again")  # the page read before
    assert again.status_code == 409
    assert person("triage").get("/admin/erase").status_code == 403
