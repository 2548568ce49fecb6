"""The admin's pages: users and the provider directory, through the same services."""

from fastapi.testclient import TestClient

from tests.support import PASSWORD, Api
from tests.web.browser import Person, text_of
from tests.web.conftest import Visit


def test_an_admin_adds_a_user_who_can_then_sign_in(person: Visit, client: TestClient) -> None:
    admin = person("admin")
    page = admin.get("/admin/users")
    answer = admin.submit(page, "/admin/users", username="amira.k", role="provider",
                          provider="core-general", password=PASSWORD)  # fmt: skip
    page = admin.follow(answer)
    assert "The user was added" in text_of(page.text)
    assert "amira.k" in text_of(page.text)
    assert Person(client, "amira.k").home == "/offers"


def test_adding_a_user_says_what_is_wrong_with_each_field(person: Visit) -> None:
    admin = person("admin")
    page = admin.get("/admin/users")
    answer = admin.submit(page, "/admin/users", username="no spaces", role="provider",
                          password="short")  # fmt: skip
    assert answer.status_code == 400
    words = text_of(answer.text)
    assert "There is a problem" in words
    assert "Use letters, numbers and . _ @ - only" in words
    assert "Select the provider they work for" in words
    assert 'href="#username"' in answer.text and 'href="#provider"' in answer.text


def test_a_disabled_users_session_and_tokens_stop_at_once(
    person: Visit, sign_in, client: TestClient
) -> None:
    worker = person("triage")
    token_holder: Api = sign_in("triage")
    assert worker.get("/queue").status_code == 200
    admin = person("admin")
    for username in (worker.username,):
        page = admin.get(f"/admin/users/{username}")
        page = admin.follow(admin.submit(page, f"/admin/users/{username}/active", active="no"))
        assert "The user was disabled" in text_of(page.text)
    assert worker.get("/queue").status_code == 303  # off to sign in again
    assert token_holder.get("/api/referrals").status_code == 200  # someone else's: untouched


def test_a_password_reset_ends_the_users_sessions(person: Visit) -> None:
    worker = person("triage")
    admin = person("admin")
    page = admin.get(f"/admin/users/{worker.username}")
    short = admin.submit(page, f"/admin/users/{worker.username}/password", password="1234")
    assert short.status_code == 400 and "at least 8 characters" in text_of(short.text)
    admin.follow(admin.submit(page, f"/admin/users/{worker.username}/password",
                              password="a-new-long-password"))  # fmt: skip
    assert worker.get("/queue").status_code == 303


def test_an_admin_cannot_disable_themselves(person: Visit) -> None:
    admin = person("admin")
    page = admin.get(f"/admin/users/{admin.username}")
    answer = admin.submit(page, f"/admin/users/{admin.username}/active", active="no")
    assert answer.status_code == 400
    assert "you cannot disable yourself" in text_of(answer.text).lower()


def test_a_provider_entry_is_edited_and_ages_kept_in_order(person: Visit, triage: Api) -> None:
    admin = person("admin")
    page = admin.get("/admin/providers/young-people")
    assert page.status_code == 200
    form = {"name": "Young People's Service", "accepting": "no", "capacity": "12",
            "respond_by_hours": "48", "services": ["young_people"],
            "areas": ["derby_city", "derbyshire_county"], "min_age": "18",
            "max_age": "10"}  # fmt: skip
    refused = admin.submit(page, "/admin/providers/young-people", **form)
    assert refused.status_code == 400
    assert "not below the youngest" in text_of(refused.text)
    assert 'href="#max_age"' in refused.text
    saved = admin.follow(admin.submit(page, "/admin/providers/young-people",
                                      **{**form, "min_age": "5", "max_age": "17"}))  # fmt: skip
    assert "The provider's entry was saved" in text_of(saved.text)
    entry = triage.get("/api/providers").json()
    young = next(p for p in entry["items"] if p["code"] == "young-people")
    assert (young["min_age"], young["max_age"], young["accepting"], young["capacity"]) == (
        5, 17, False, 12)  # fmt: skip
