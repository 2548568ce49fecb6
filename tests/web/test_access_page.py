"""The admin's access report page: the same report as GET /api/audit/access, its CSV
downloaded with the page's own session."""

import csv
import io

from tests.support import Api, victim
from tests.web.browser import text_of
from tests.web.conftest import Visit

NAME = "Ottoline Brackenbury"  # the victim: a name no other test uses


def test_an_admin_reads_who_read_and_changed_a_referral_and_downloads_it(
    person: Visit, sign_in
) -> None:
    worker: Api = sign_in("triage", username="jo.triage")
    referral = worker.create(victim=victim(full_name=NAME))
    assert worker.get(f"/api/referrals/{referral['id']}").status_code == 200
    admin = person("admin")
    users = admin.get("/admin/users")
    assert 'href="/admin/access"' in users.text
    empty = admin.get("/admin/access")
    assert empty.status_code == 200 and "Show the report" in text_of(empty.text)
    assert "<table" not in empty.text

    page = admin.get("/admin/access", params={"referral": referral["reference"]})
    assert page.status_code == 200, page.text
    words = text_of(page.text)
    assert f"Who read or changed {referral['reference']}" in words
    assert "2 lines from 2026-10-26 to 2026-11-24 (UTC)" in words
    assert "jo.triage Triage Create Change" in words
    assert "jo.triage Triage Read Read" in words
    assert NAME not in page.text

    link = (
        f"/admin/access.csv?referral={referral['reference']}&amp;from=2026-10-26&amp;to=2026-11-24"
    )
    assert f'href="{link}"' in page.text
    download = admin.get(link.replace("&amp;", "&"))
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(row["user"], row["action"], row["kind"]) for row in rows] == [
        ("jo.triage", "create", "change"),
        ("jo.triage", "read", "read"),
        (admin.username, "access_report", "read"),  # the page's own report, audited
    ]
    assert NAME not in download.text


def test_a_user_report_lists_what_they_did(person: Visit, sign_in) -> None:
    worker: Api = sign_in("triage", username="kim.triage")
    first, second = worker.create(), worker.create()
    admin = person("admin")
    page = admin.get("/admin/access", params={"user": "kim.triage", "from": "2026-11-24"})
    words = text_of(page.text)
    assert "What kim.triage read or changed" in words
    assert first["reference"] in words and second["reference"] in words
    assert "2 lines from 2026-11-24 to 2026-11-24" in words


def test_what_is_wrong_with_the_form_is_said_beside_each_field(person: Visit) -> None:
    admin = person("admin")
    both = admin.get("/admin/access", params={"referral": "VR-26-ZZZZZZZZ", "user": "x"})
    assert both.status_code == 400
    assert "There is a problem" in text_of(both.text) and 'href="#user"' in both.text
    dates = admin.get("/admin/access", params={"user": "x", "from": "1 Nov", "to": "2026-11-01"})
    assert dates.status_code == 400 and 'href="#from"' in dates.text
    assert "like 2026-11-01" in text_of(dates.text)
    unknown = admin.get("/admin/access", params={"user": "nobody-at-all"})
    assert unknown.status_code == 400 and "No user nobody-at-all" in text_of(unknown.text)
    backwards = admin.get("/admin/access", params={"user": admin.username, "from": "2026-11-24",
                                                   "to": "2026-11-01"})  # fmt: skip
    assert backwards.status_code == 400 and "From must not be after to" in text_of(backwards.text)


def test_other_roles_are_refused_as_on_every_admin_page(person: Visit) -> None:
    for role in ("triage", "commissioner"):
        someone = person(role)
        assert someone.get("/admin/access").status_code == 403
        assert (
            someone.get("/admin/access.csv", params={"user": someone.username}).status_code == 403
        )
        assert someone.get("/admin/users").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(person: Visit) -> None:
    visitor = person("admin")
    visitor.client.cookies.clear()
    answer = visitor.get("/admin/access")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
