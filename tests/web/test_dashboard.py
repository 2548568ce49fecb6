"""The commissioner's dashboard: the reports' own figures, charts beside tables, filters,
downloads of every table."""

import csv
import io

from tests.api.flows import held
from tests.support import Api
from tests.web.browser import text_of
from tests.web.conftest import Visit


def test_the_funnel_counts_each_stage_and_filters_narrow_it(
    person: Visit, triage: Api, sign_in
) -> None:
    worker = sign_in("provider", "core-general")
    for _ in range(6):
        held(triage, worker, crime_type="violence")
    for _ in range(7):
        triage.create(crime_type="burglary")
    commissioner = person("commissioner")
    page = commissioner.get("/dashboard")
    assert page.status_code == 200, page.text
    words = text_of(page.text)
    assert "Received 13" in words
    assert "Accepted by a provider 6" in words
    assert "<svg" in page.text and 'aria-hidden="true"' in page.text

    page = commissioner.get("/dashboard", params={"crime_type": "violence"})
    words = text_of(page.text)
    assert "Received 6" in words
    assert "violence only" in words

    small = commissioner.get("/dashboard", params={"crime_type": "violence",
                                                     "area": "derbyshire_county"})  # fmt: skip
    assert "Received 0" in text_of(small.text)


def test_every_table_downloads_with_the_filters(person: Visit, triage: Api) -> None:
    for _ in range(5):
        triage.create(crime_type="theft")
    commissioner = person("commissioner")
    page = commissioner.get("/dashboard", params={"crime_type": "theft"})
    for kind in ("conversion", "vcop", "providers", "moj"):
        for fmt in ("csv", "xlsx"):
            assert f"/dashboard/{kind}.{fmt}?" in page.text
    answer = commissioner.get("/dashboard/conversion.csv", params={"crime_type": "theft"})
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    received = next(r for r in rows if r["group"] == "all" and r["measure"] == "received")
    assert received["count"] == "5"


def test_the_dashboard_is_for_commissioners_and_admins(person: Visit) -> None:
    assert person("admin").get("/dashboard").status_code == 200
    assert person("triage").get("/dashboard").status_code == 403
