"""An Open Referral UK listing planned into `providers.toml` (pure) and the file's text
edited to match: added, changed field by field, unchanged, skipped with the reason."""

import difflib
import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from triage.providers import directory_file
from triage.providers.directory_file import DirectoryFileError, bumped, edited, read_area_map
from triage.providers.directory_import import (
    PLACEHOLDERS,
    AreaMatcher,
    FieldChange,
    ImportPlan,
    make_code,
    plan_import,
)
from triage.providers.listing import ListedService, Listing, ListingProblem
from triage.routing.rules import ProviderDirectory
from triage.rule_sources import RulesError, load_directory

SHIPPED = Path(__file__).resolve().parents[2] / "routing_rules" / "derbyshire"
AREAS = AreaMatcher(areas=("derby_city", "derbyshire_county"))
HATE_ID = "5a1e0000-0000-4000-8000-000000000002"


def make_service(**overrides: Any) -> ListedService:
    values: dict[str, Any] = {
        "where": "contents[0]",
        "service_id": "5a1e0000-0000-4000-8000-000000000001",
        "name": "Riverside Victim Advocacy",
        "status": "active",
        "description": "Support for adults affected by crime.",
        "email": "hello@riverside-advocacy.example.org",
        "url": "https://riverside-advocacy.example.org",
        "minimum_age": 18,
        "service_areas": ("Derby City",),
    }
    return ListedService(**(values | overrides))


def shipped_text(**links: str) -> str:
    """The shipped providers.toml, with `oruk_id = ...` added to the entries named (code=id)."""
    text = (SHIPPED / "providers.toml").read_text()
    for code, oruk_id in links.items():
        line = f'code = "{code}"\n'
        assert line in text
        text = text.replace(line, f'{line}oruk_id = "{oruk_id}"\n')
    return text


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """The lines an edit took out and put in, in order."""
    diff = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))
    lines = [line for line in diff if not line.startswith(("---", "+++", "@@"))]
    return [x[1:] for x in lines if x[0] == "-"], [x[1:] for x in lines if x[0] == "+"]


def directory_of(text: str) -> ProviderDirectory:
    return load_directory(SHIPPED / "providers.toml", text)


def plan(*services: ListedService, text: str | None = None, **kwargs: Any) -> ImportPlan:
    listing = Listing("test", list(services), list(kwargs.pop("problems", [])))
    areas = kwargs.pop("areas", AREAS)
    return plan_import(listing=listing, directory=directory_of(text or shipped_text()), areas=areas)


class TestANewService:
    def test_is_added_with_a_code_from_its_name_and_placeholders_that_route_nothing(self) -> None:
        done = plan(make_service())
        [added] = done.added
        entry = added.entry
        assert entry.code == "riverside-victim-advocacy"
        assert entry.oruk_id == "5a1e0000-0000-4000-8000-000000000001"
        assert (entry.name, entry.email) == (
            "Riverside Victim Advocacy",
            "hello@riverside-advocacy.example.org",
        )
        assert (entry.areas, entry.min_age, entry.max_age) == (["derby_city"], 18, None)
        assert entry.services == PLACEHOLDERS["services"] and entry.accepting is False
        assert entry.respond_by_hours == 48 and entry.notify_address is None
        assert (done.changed, done.unchanged, done.skipped) == ([], [], [])

    def test_fractional_ages_are_rounded_inwards(self) -> None:
        [added] = plan(make_service(minimum_age=15.5, maximum_age=17.9)).added
        assert (added.entry.min_age, added.entry.max_age) == (16, 17)

    def test_areas_match_by_name_whatever_the_case_and_punctuation(self) -> None:
        [added] = plan(make_service(service_areas=("DERBYSHIRE-county", "derby city"))).added
        assert added.entry.areas == ["derby_city", "derbyshire_county"]

    def test_an_area_that_matches_nothing_is_left_out_with_a_note(self) -> None:
        [added] = plan(make_service(service_areas=("Derby City", "Amber Valley"))).added
        assert added.entry.areas == ["derby_city"]
        assert added.notes == (
            "service area 'Amber Valley' is not an area of this rule set: left out (--areas-map)",
        )

    def test_the_areas_map_names_the_codes_a_directory_area_stands_for(self) -> None:
        areas = replace(AREAS, mapped={"amber valley": ("derbyshire_county",)})
        done = plan(make_service(service_areas=("Amber Valley",)), areas=areas)
        assert done.added[0].entry.areas == ["derbyshire_county"]

    def test_a_service_naming_no_area_takes_the_areas_given_with_area(self) -> None:
        areas = replace(AREAS, unnamed=("derbyshire_county",))
        done = plan(make_service(service_areas=()), areas=areas)
        assert done.added[0].entry.areas == ["derbyshire_county"]

    def test_a_code_already_taken_gets_a_number(self) -> None:
        first = make_service(name="Hate Crime")
        second = make_service(service_id="other", name="Hate crime!", where="contents[1]")
        done = plan(first, second)
        assert [a.entry.code for a in done.added] == ["hate-crime-2", "hate-crime-3"]


class TestMakingACode:
    def test_long_names_stop_at_a_word_within_forty_characters(self) -> None:
        code = make_code("Sexual Violence Support Derbyshire (children and young people)", "x",
                         taken=())  # fmt: skip
        assert code == "sexual-violence-support-derbyshire"

    def test_a_name_without_latin_letters_takes_a_code_from_the_id(self) -> None:
        code = make_code("Ωμέγα", "5a1e", taken=())
        assert code == make_code("!", "5a1e", taken=()) and code.startswith("service-")
        assert code != make_code("!", "another id", taken=())


class TestAServiceAlreadyInTheFile:
    def test_changes_only_the_fields_the_directory_gives_field_by_field(self) -> None:
        service = make_service(
            service_id=HATE_ID,
            name="Peak Hate Crime Advice Line",
            minimum_age=None,
            service_areas=("Derby City", "Derbyshire County"),
        )
        done = plan(service, text=shipped_text(**{"hate-crime": HATE_ID}))
        [changed] = done.changed
        assert changed.entry.code == "hate-crime"
        assert changed.changes == (
            FieldChange("name", "Derbyshire Hate Crime Support", "Peak Hate Crime Advice Line"),
            FieldChange("description", None, "Support for adults affected by crime."),
            FieldChange("email", None, "hello@riverside-advocacy.example.org"),
            FieldChange("url", None, "https://riverside-advocacy.example.org"),
        )
        assert changed.entry.services == ["hate_crime"] and changed.entry.respond_by_hours == 48
        assert changed.entry.hate_strands[0] == "race" and changed.entry.funding.contract_ref
        assert (done.added, done.unchanged, done.skipped) == ([], [], [])

    def test_is_unchanged_when_the_directory_says_what_the_file_says(self) -> None:
        service = make_service(
            service_id=HATE_ID,
            name="Derbyshire Hate Crime Support",
            description=None,
            email=None,
            url=None,
            minimum_age=None,
            service_areas=("Derbyshire County", "Derby City"),  # another order: the same areas
        )
        done = plan(service, text=shipped_text(**{"hate-crime": HATE_ID}))
        assert [e.code for e in done.unchanged] == ["hate-crime"] and not done.changed

    def test_providers_the_listing_does_not_name_are_left_and_noted(self) -> None:
        done = plan(make_service(), text=shipped_text(**{"hate-crime": HATE_ID}))
        assert [e.code for e in done.not_listed] == ["hate-crime"]


class TestSkipped:
    def test_a_service_that_is_not_active_is_skipped_with_its_status(self) -> None:
        done = plan(make_service(status="temporarily closed"))
        [skipped] = done.skipped
        assert skipped.where == "contents[0]"
        assert skipped.reason == (
            "status is 'temporarily closed': only active services are imported"
        )
        assert not done.added

    def test_a_linked_provider_whose_service_closed_is_named_for_review(self) -> None:
        service = make_service(service_id=HATE_ID, status="defunct")
        done = plan(service, text=shipped_text(**{"hate-crime": HATE_ID}))
        assert done.skipped[0].reason.endswith("provider 'hate-crime' is left as it is: review it")

    def test_a_service_in_none_of_the_areas_is_skipped(self) -> None:
        done = plan(make_service(service_areas=("Nottingham",)))
        assert done.skipped[0].reason == (
            "none of its service areas (Nottingham) is an area of this rule set "
            "(derby_city, derbyshire_county): map them with --areas-map"
        )

    def test_a_service_naming_no_area_is_skipped_without_area(self) -> None:
        done = plan(make_service(service_areas=()))
        assert done.skipped[0].reason == (
            "it names no service area: give --area for the areas it serves"
        )

    def test_a_service_with_the_name_of_an_unlinked_provider_is_not_added_twice(self) -> None:
        done = plan(make_service(name="Derbyshire hate crime support"))
        assert done.skipped[0].reason == (
            "provider 'hate-crime' has the same name and no oruk_id: add oruk_id = "
            '"5a1e0000-0000-4000-8000-000000000001" to it to link the two, then import again'
        )

    def test_a_service_listed_twice_is_read_once(self) -> None:
        done = plan(make_service(), make_service(where="contents[7]"))
        assert len(done.added) == 1
        assert done.skipped[0].reason == "listed again (first at contents[0]): read once"

    def test_values_the_entry_refuses_are_named_by_their_path_in_the_source(self) -> None:
        done = plan(
            make_service(email="not an address"),
            make_service(where="contents[1]", service_id="b", minimum_age=130),
            make_service(where="contents[2]", service_id="c", minimum_age=18, maximum_age=16),
        )
        assert not done.added
        reasons = [s.reason for s in done.skipped]
        assert reasons[0].startswith("contents[0].email: value is not a valid email address")
        assert reasons[1] == ("contents[1].minimum_age: Input should be less than or equal to 120")
        assert reasons[2] == (
            "contents[2].maximum_age: Value error, max_age (16) must not be below min_age (18)"
        )

    def test_the_readers_problems_are_skipped_in_document_order(self) -> None:
        problem = ListingProblem("contents[1]", "contents[1].name: required, but missing", "x")
        done = plan(
            make_service(where="contents[10]", status="inactive"),
            make_service(where="contents[2]", service_id="y", status="inactive"),
            problems=[problem],
        )
        assert [s.where for s in done.skipped] == ["contents[1]", "contents[2]", "contents[10]"]
        assert done.skipped[0].label == "id x"


class TestTheEditedFile:
    def test_new_entries_are_added_at_the_end_and_every_other_byte_is_kept(self) -> None:
        text = shipped_text()
        done = plan(make_service())
        after = edited(text, done, "2026.11.2")
        assert after.startswith(text.replace('version = "2026.11.1"', 'version = "2026.11.2"'))
        added = tomllib.loads(after)["providers"][-1]
        assert added["code"] == "riverside-victim-advocacy" and added["accepting"] is False
        assert directory_of(after).providers == done.entries(directory_of(text))

    def test_any_text_is_written_so_that_it_reads_back_the_same(self) -> None:
        text = shipped_text()
        service = make_service(
            name='Café "Élan" Support \\ Derby',
            description='Line one,\nline "two"\ttabbed \\ and ☎ 𝄞 # not a comment',
        )
        done = plan(service)
        assert done.added[0].entry.code == "cafe-elan-support-derby"
        after = edited(text, done, None)
        assert directory_of(after).providers == done.entries(directory_of(text))

    def test_a_changed_entry_has_only_its_changed_lines_replaced_comments_kept(self) -> None:
        text = shipped_text(**{"hate-crime": HATE_ID}).replace(
            'name = "Derbyshire Hate Crime Support"',
            'name = "Derbyshire Hate Crime Support"  # as the contract names it',
        )
        service = make_service(service_id=HATE_ID, name="Peak Hate Crime Advice Line", url=None,
                               minimum_age=None, service_areas=("Derby City",))  # fmt: skip
        done = plan(service, text=text)
        after = edited(text, done, None)
        removed, added = changed_lines(text, after)
        assert removed == [
            'name = "Derbyshire Hate Crime Support"  # as the contract names it',
            'areas = ["derby_city", "derbyshire_county"]',
        ]
        assert added == [
            'name = "Peak Hate Crime Advice Line"  # as the contract names it',
            'description = "Support for adults affected by crime."',
            'email = "hello@riverside-advocacy.example.org"',
            'areas = ["derby_city"]',
        ]
        assert directory_of(after).providers == done.entries(directory_of(text))

    def test_a_field_the_directory_no_longer_gives_is_removed(self) -> None:
        text = shipped_text(**{"young-people": HATE_ID})
        service = make_service(service_id=HATE_ID, name="Young Victims Service Derbyshire",
                               description=None, email=None, url=None, minimum_age=None,
                               service_areas=("Derby City", "Derbyshire County"))  # fmt: skip
        done = plan(service, text=text)
        assert done.changed[0].changes == (FieldChange("max_age", 17, None),)
        after = edited(text, done, None)
        assert changed_lines(text, after) == (["max_age = 17"], [])
        assert directory_of(after).providers == done.entries(directory_of(text))

    def test_a_multi_line_value_is_replaced_whole(self) -> None:
        text = shipped_text(**{"hate-crime": HATE_ID})
        text = text.replace(
            'areas = ["derby_city", "derbyshire_county"]\nhate_strands',
            'areas = [\n  "derby_city",  # the city\n  "derbyshire_county",\n]\nhate_strands',
        )
        service = make_service(service_id=HATE_ID, name="Derbyshire Hate Crime Support",
                               description=None, email=None, url=None, minimum_age=None,
                               service_areas=("Derby City",))  # fmt: skip
        after = edited(text, plan(service, text=text), None)
        assert 'areas = ["derby_city"]\nhate_strands' in after and "# the city" not in after

    def test_a_file_without_provider_tables_is_not_edited(self) -> None:
        text = 'version = "1"\nrule_set = "x"\nareas = ["derby_city"]\nproviders = []\n'
        done = plan(make_service())
        with pytest.raises(DirectoryFileError, match=r"as a \[\[providers\]\] table"):
            edited(text.replace("providers = []", 'providers = [{code = "a"}]'), done, None)

    @pytest.mark.parametrize(
        ("version", "after"),
        [("2026.11.1", "2026.11.2"), ("7", "8"), ("2026.11.09", "2026.11.10"), ("v-one", None)],
    )
    def test_the_version_is_bumped_when_it_ends_in_a_number(
        self, version: str, after: str | None
    ) -> None:
        assert bumped(version) == after


class TestProposing:
    def test_a_proposal_that_fails_the_rule_checks_is_refused(self, tmp_path: Path) -> None:
        folder = tmp_path / "derbyshire"
        folder.mkdir()
        (folder / "routing.toml").write_text((SHIPPED / "routing.toml").read_text())
        text = shipped_text(**{"young-people": HATE_ID})
        (folder / "providers.toml").write_text(text)
        service = make_service(service_id=HATE_ID, name="Young Victims Service Derbyshire",
                               minimum_age=18, service_areas=("Derby City",))  # fmt: skip
        done = plan(service, text=text)
        with pytest.raises(RulesError) as error:
            directory_file.propose(done, folder=folder)
        assert any("rule 'young-people'" in problem for problem in error.value.problems)
        assert (folder / "providers.toml").read_text() == text


class TestTheAreasMap:
    def test_an_area_given_for_unnamed_areas_must_be_the_rule_sets(self) -> None:
        with pytest.raises(DirectoryFileError, match=r"^--area leeds: not among the rule set's"):
            directory_file.area_matcher(AREAS.areas, unnamed=["leeds"], area_map=None)

    def test_names_map_to_one_code_or_several(self, tmp_path: Path) -> None:
        path = tmp_path / "areas.toml"
        path.write_text('[areas]\n"Amber Valley" = "derbyshire_county"\n'
                        '"Derbyshire (all)" = ["derby_city", "derbyshire_county"]\n')  # fmt: skip
        assert read_area_map(path, areas=AREAS.areas) == {
            "amber valley": ("derbyshire_county",),
            "derbyshire all": ("derby_city", "derbyshire_county"),
        }

    @pytest.mark.parametrize(
        ("content", "problem"),
        [
            ('[areas]\n"Leeds" = "leeds"\n', "['leeds'] not among the rule set's areas"),
            ('[areas]\n"Derby" = "derby_city"\n"DERBY" = "derby_city"\n', "named twice"),
            ('"Derby" = "derby_city"\n', "expected [areas]"),
            ("[areas\n", "not valid TOML"),
        ],
    )
    def test_a_bad_map_is_refused_naming_the_problem(
        self, tmp_path: Path, content: str, problem: str
    ) -> None:
        path = tmp_path / "areas.toml"
        path.write_text(content)
        with pytest.raises(DirectoryFileError, match=f"^{path}: .*{re.escape(problem)}"):
            read_area_map(path, areas=AREAS.areas)
