"""`triage providers import-oruk`: synthetic Open Referral UK documents (checked against the
compiled ORUK schemas) read from files and from a local HTTP server, the diff reviewed,
applied with --write, then `triage rules check` and `triage rules load` on the result.

The commands run in this process (tests/db/test_cli.py's `triage`); one runs the real
command in a process of its own."""

import json
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from adapters.oruk.reader import OrukReader
from tests.db.test_cli import triage, triage_process
from triage.providers.listing import DirectoryUnreadable

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "oruk"
SCHEMAS = ROOT.parent / "shared" / "oruk" / "schema"
ORG = "5a1e0000-0000-4000-8000-0000000000"  # the fixtures' ids end in two hex digits
NO_DATABASE = "sqlite:///:memory:"  # import-oruk reads and writes the rule files only


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def schema(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        json.loads((SCHEMAS / name).read_text()),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


# A list page as the HSDS API answers `GET /services` (components.schemas.Page of the HSDS
# OpenAPI document, which the compiled schemas leave out): the page's fields, and `contents`
# of `service_list.json` items.
PAGE = {
    "type": "object",
    "required": ["empty", "contents"],
    "properties": {
        **{key: {"type": "integer"} for key in ("total_items", "total_pages", "page_number")},
        "size": {"type": "integer"},
        **{key: {"type": "boolean"} for key in ("first_page", "last_page", "empty")},
        "contents": {"type": "array"},
    },
}


def problems(validator: Draft202012Validator, document: Any) -> list[tuple[str, str]]:
    """Each schema error as (its JSON path, its message)."""
    return sorted(
        ("".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path), e.message)
        for e in validator.iter_errors(document)
    )


class TestTheFixturesAgainstTheOrukSchemas:
    def test_the_service_is_a_valid_service(self) -> None:
        assert problems(schema("service.json"), fixture("service.json")) == []

    def test_the_organization_is_a_valid_organization_with_its_services(self) -> None:
        assert problems(schema("organization.json"), fixture("organization.json")) == []

    @pytest.mark.parametrize("name", ["service_list_page_1.json", "service_list_page_2.json"])
    def test_each_list_page_is_a_page_of_valid_service_list_items(self, name: str) -> None:
        page = fixture(name)
        assert problems(Draft202012Validator(PAGE), page) == []
        item = schema("service_list.json")
        assert [problems(item, service) for service in page["contents"]] == [[]] * len(
            page["contents"]
        )

    def test_the_missing_name_is_invalid_where_the_schema_says(self) -> None:
        assert problems(schema("organization.json"), fixture("missing_name.json")) == [
            (".services[1]", "'name' is a required property")
        ]

    def test_the_bad_status_is_invalid_where_the_schema_says(self) -> None:
        page = fixture("bad_status.json")
        item = schema("service_list.json")
        assert problems(item, page["contents"][0]) == []
        assert problems(item, page["contents"][1]) == [
            (
                ".status",
                "'open' is not one of ['active', 'inactive', 'defunct', 'temporarily closed']",
            )
        ]


class TestReadingEachShape:
    def test_a_service(self) -> None:
        listing = OrukReader().read(str(FIXTURES / "service.json"))
        [service] = listing.services
        assert (service.where, service.service_id, service.name) == (
            "",
            f"{ORG}01",
            "Riverside Victim Advocacy",
        )
        assert service.service_areas == ("Derby City", "Amber Valley")
        assert (service.minimum_age, service.maximum_age) == (18, None)
        assert listing.problems == [] and listing.notes == []

    def test_a_file_holding_one_page_of_a_list_says_the_others_are_not_read(self) -> None:
        listing = OrukReader().read(str(FIXTURES / "service_list_page_1.json"))
        assert [(s.where, s.status) for s in listing.services] == [
            ("contents[0]", "active"),
            ("contents[1]", "temporarily closed"),
        ]
        assert listing.notes == [
            f"{FIXTURES / 'service_list_page_1.json'} holds page 1 of 2 of a list: the others "
            "are not read (give the list's URL to read every page)"
        ]

    def test_an_organization_with_its_services(self) -> None:
        listing = OrukReader().read(str(FIXTURES / "organization.json"))
        assert [s.where for s in listing.services] == [f"services[{i}]" for i in range(4)]
        assert listing.services[2].service_areas == ("DERBY-CITY",)

    def test_a_missing_name_is_named_by_its_path(self) -> None:
        listing = OrukReader().read(str(FIXTURES / "missing_name.json"))
        assert [s.where for s in listing.services] == ["services[0]"]
        [problem] = listing.problems
        assert (problem.where, problem.reason, problem.service_id) == (
            "services[1]",
            "services[1].name: required, but missing",
            f"{ORG}09",
        )

    def test_a_bad_status_is_named_by_its_path(self) -> None:
        listing = OrukReader().read(str(FIXTURES / "bad_status.json"))
        [problem] = listing.problems
        assert problem.reason == (
            "contents[1].status: 'open' is not a status: "
            "active, inactive, defunct, temporarily closed"
        )

    def test_a_package_array_of_services_and_organizations(self, tmp_path: Path) -> None:
        package = tmp_path / "package.json"
        package.write_text(json.dumps([fixture("service.json"), fixture("missing_name.json")]))
        listing = OrukReader().read(str(package))
        assert [s.where for s in listing.services] == ["[0]", "[1].services[0]"]
        assert [p.where for p in listing.problems] == ["[1].services[1]"]

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"{not json", r"not JSON \(Expecting property name"),
            (b'{"id": NaN}', r"not JSON \(NaN is not a JSON number\)"),
            (b'"a string"', None),
        ],
    )
    def test_what_is_not_a_document_is_refused_or_named(
        self, tmp_path: Path, content: bytes, message: str | None
    ) -> None:
        path = tmp_path / "bad.json"
        path.write_bytes(content)
        if message is None:
            assert OrukReader().read(str(path)).problems[0].reason == "the document: not an object"
            return
        with pytest.raises(DirectoryUnreadable, match=message):
            OrukReader().read(str(path))

    def test_a_missing_file_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(DirectoryUnreadable, match="cannot be read"):
            OrukReader().read(str(tmp_path / "nowhere.json"))


class Directory(BaseHTTPRequestHandler):
    """A directory's API: `/services?page=N` from the fixtures' two pages, `/org` the
    organization; any other path is 404. It keeps the paths asked for."""

    asked: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        self.asked.append(self.path)
        url = urllib.parse.urlsplit(self.path)
        page = urllib.parse.parse_qs(url.query).get("page", ["1"])[0]
        files = {"/services": f"service_list_page_{page}.json", "/org": "organization.json"}
        path = FIXTURES / files.get(url.path, "none")
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass


@pytest.fixture
def served() -> Iterator[str]:
    """The directory's base URL, on a free local port."""
    Directory.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Directory)
    # Polled for shutdown every 0.05 s (0.5 s by default: each test's teardown would wait).
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


class TestReadingAUrl:
    def test_a_list_is_read_page_by_page_to_the_last(self, served: str) -> None:
        listing = OrukReader().read(f"{served}/services?per_page=2")
        assert [s.where for s in listing.services] == [
            "page 1: contents[0]",
            "page 1: contents[1]",
            "page 2: contents[0]",
        ]
        assert listing.pages == 2 and listing.notes == []
        assert Directory.asked == ["/services?per_page=2", "/services?per_page=2&page=2"]

    def test_an_organization_is_one_request(self, served: str) -> None:
        listing = OrukReader().read(f"{served}/org")
        assert len(listing.services) == 4 and Directory.asked == ["/org"]

    def test_a_refusal_is_named(self, served: str) -> None:
        with pytest.raises(DirectoryUnreadable, match=r"GET .*/nothing answered 404"):
            OrukReader().read(f"{served}/nothing")


@pytest.fixture
def rule_set(tmp_path: Path) -> Path:
    """A copy of the shipped rule set to import into."""
    folder = tmp_path / "derbyshire"
    shutil.copytree(ROOT / "routing_rules" / "derbyshire", folder)
    return folder


def import_oruk(source: str | Path, rule_set: Path, *options: str, run: Any = triage) -> Any:
    return run(
        "providers", "import-oruk", str(source), "--rule-set", str(rule_set), *options,
        url=NO_DATABASE, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1",
    )  # fmt: skip


def link(text: str, code: str, oruk_id: str) -> str:
    """providers.toml with the entry `code` linked to a directory's service by hand."""
    line = f'code = "{code}"\n'
    assert line in text
    return text.replace(line, f'{line}oruk_id = "{oruk_id}"\n')


def section(output: str, title: str) -> list[str]:
    """The lines of one section of the import's report (`added`, `skipped`, ...)."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{title}")), None)
    if start is None:
        return []
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return [line.strip() for line in lines[start + 1 : end] if line.startswith("  ")]


class TestTheCommand:
    def test_an_organization_is_shown_as_a_diff_and_nothing_is_written(
        self, rule_set: Path
    ) -> None:
        before = (rule_set / "providers.toml").read_text()
        done = import_oruk(FIXTURES / "organization.json", rule_set)
        assert done.returncode == 0, done.stderr
        out = done.stdout
        assert "4 service(s) read" in out
        assert "2 added, 0 changed, 0 unchanged, 2 skipped" in out
        assert [line for line in section(out, "added") if line.startswith("+")] == [
            "+ greenway-domestic-abuse-outreach",
            "+ greenway-advocacy-derby",
        ]
        assert section(out, "skipped") == [
            f"- services[1] (id {ORG}06, 'Greenway Befriending'): status is 'inactive': "
            "only active services are imported",
            f"- services[3] (id {ORG}08, 'Greenway Nottingham Helpline'): none of its service "
            "areas (Nottingham) is an area of this rule set (derby_city, derbyshire_county): "
            "map them with --areas-map",
        ]
        assert out.rstrip().endswith("nothing written: run again with --write to apply")
        assert (rule_set / "providers.toml").read_text() == before

    def test_written_the_rules_pass_their_check_and_load_and_a_second_import_is_unchanged(
        self, rule_set: Path, tmp_path: Path
    ) -> None:
        written = import_oruk(FIXTURES / "organization.json", rule_set, "--write")
        assert written.returncode == 0, written.stderr
        assert "(version 2026.11.1 -> 2026.11.2)" in written.stdout
        checked = triage("rules", "check", str(rule_set), url=NO_DATABASE)
        assert checked.returncode == 0, checked.stderr
        assert "12 providers" in checked.stdout
        database = f"sqlite:///{tmp_path / 'triage.db'}"
        assert triage("db", "upgrade", url=database).returncode == 0
        loaded = triage("rules", "load", str(rule_set), url=database)
        assert loaded.returncode == 0 and "12 added" in loaded.stdout, loaded.stderr
        again = import_oruk(FIXTURES / "organization.json", rule_set, "--write")
        assert "0 added, 0 changed, 2 unchanged, 2 skipped" in again.stdout
        assert section(again.stdout, "unchanged") == [
            f"= greenway-domestic-abuse-outreach (oruk_id {ORG}05)",
            f"= greenway-advocacy-derby (oruk_id {ORG}07)",
        ]
        assert again.stdout.rstrip().endswith("nothing to change")

    def test_a_paged_list_from_a_url_changes_a_linked_provider_field_by_field(
        self, rule_set: Path, served: str
    ) -> None:
        providers = rule_set / "providers.toml"
        text = providers.read_text()
        providers.write_text(link(text, "hate-crime", f"{ORG}02"))
        done = import_oruk(f"{served}/services", rule_set, "--area", "derby_city",
                           "--area", "derbyshire_county", "--write")  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "3 service(s) read from" in done.stdout and "(2 pages)" in done.stdout
        assert "1 added, 1 changed, 0 unchanged, 1 skipped" in done.stdout
        assert section(done.stdout, "changed") == [
            f"~ hate-crime (oruk_id {ORG}02)",
            'name: "Derbyshire Hate Crime Support" -> "Peak Hate Crime Advice Line"',
            'description: (none) -> "Advice and advocacy after a hate incident or crime."',
            'email: (none) -> "advice@peak-hate-crime.example.org"',
            'url: (none) -> "https://peak-hate-crime.example.org"',
        ]
        assert section(done.stdout, "added")[0] == "+ young-voices-after-crime"
        assert section(done.stdout, "skipped") == [
            f"- page 1: contents[1] (id {ORG}03, 'Moorland Counselling Collective'): "
            "status is 'temporarily closed': only active services are imported"
        ]
        after = providers.read_text()
        assert "min_age = 11\nmax_age = 17\nrespond_by_hours = 48\naccepting = false\n" in after
        untouched = text.split('code = "hate-crime"')[0].replace("2026.11.1", "2026.11.2")
        assert after.startswith(untouched)  # every entry before it, byte for byte
        checked = triage("rules", "check", str(rule_set), url=NO_DATABASE)
        assert checked.returncode == 0, checked.stderr

    def test_the_areas_map_names_what_the_rule_set_calls_an_area(self, rule_set: Path) -> None:
        done = import_oruk(FIXTURES / "service.json", rule_set, "--areas-map",
                           str(FIXTURES / "areas.toml"), "--diff")  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert 'areas = ["derby_city", "derbyshire_county"]' in section(done.stdout, "added")
        assert '+code = "riverside-victim-advocacy"' in done.stdout.splitlines()

    def test_a_missing_name_and_a_bad_status_are_reported_by_path(self, rule_set: Path) -> None:
        missing = import_oruk(FIXTURES / "missing_name.json", rule_set)
        assert section(missing.stdout, "skipped") == [
            f"- services[1] (id {ORG}09): services[1].name: required, but missing"
        ]
        bad = import_oruk(FIXTURES / "bad_status.json", rule_set, "--area", "derby_city")
        assert section(bad.stdout, "skipped") == [
            f"- contents[1] (id {ORG}0a, 'Dale Support Drop-in'): contents[1].status: 'open' "
            "is not a status: active, inactive, defunct, temporarily closed"
        ]
        assert missing.returncode == bad.returncode == 0

    def test_an_import_that_would_break_the_rules_writes_nothing(self, rule_set: Path) -> None:
        providers = rule_set / "providers.toml"
        text = link(providers.read_text(), "young-people", f"{ORG}01")
        providers.write_text(text)
        done = import_oruk(FIXTURES / "service.json", rule_set, "--write")
        assert done.returncode == 1
        assert "nothing written" in done.stderr and "rule 'young-people'" in done.stderr
        assert providers.read_text() == text

    def test_a_source_that_cannot_be_read_is_one_line(self, rule_set: Path) -> None:
        # The real command, in its own process: exactly one line on its standard error.
        missing = import_oruk(FIXTURES / "nowhere.json", rule_set, run=triage_process)
        assert missing.returncode == 1
        assert missing.stderr == f"error: {FIXTURES / 'nowhere.json'}: cannot be read " + (
            "(No such file or directory)\n"
        )
