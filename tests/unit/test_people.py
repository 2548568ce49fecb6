"""Age, age band and the keys that link referrals for the same victim (DESIGN 3 and 4)."""

from datetime import date

import pytest

from triage.referrals.people import age_band, age_on, name_key, phone_key


class TestAgeOn:
    def test_the_day_before_a_birthday_is_still_the_younger_age(self):
        assert age_on(date(1990, 4, 2), date(2026, 4, 1)) == 35

    def test_the_birthday_itself_adds_a_year(self):
        assert age_on(date(1990, 4, 2), date(2026, 4, 2)) == 36

    def test_the_day_after_a_birthday_keeps_the_new_age(self):
        assert age_on(date(1990, 4, 2), date(2026, 4, 3)) == 36

    def test_a_birthday_later_in_the_year_has_not_come_yet(self):
        assert age_on(date(2008, 12, 31), date(2026, 1, 1)) == 17

    def test_the_day_of_birth_is_age_zero(self):
        assert age_on(date(2026, 5, 1), date(2026, 5, 1)) == 0

    def test_an_unknown_date_of_birth_gives_no_age(self):
        assert age_on(None, date(2026, 1, 1)) is None

    def test_a_leap_day_baby_is_not_a_year_older_on_28_february_of_a_common_year(self):
        assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17

    def test_a_leap_day_baby_is_a_year_older_on_1_march_of_a_common_year(self):
        assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18

    def test_a_leap_day_baby_has_a_birthday_on_29_february_of_a_leap_year(self):
        assert age_on(date(2008, 2, 29), date(2028, 2, 28)) == 19
        assert age_on(date(2008, 2, 29), date(2028, 2, 29)) == 20

    def test_someone_born_on_1_march_is_not_older_on_29_february(self):
        assert age_on(date(2000, 3, 1), date(2028, 2, 29)) == 27


class TestAgeBand:
    @pytest.mark.parametrize(
        ("age", "band"),
        [
            (0, "under_16"),
            (15, "under_16"),
            (16, "16-17"),
            (17, "16-17"),
            (18, "18-24"),
            (24, "18-24"),
            (25, "25-34"),
            (34, "25-34"),
            (35, "35-49"),
            (49, "35-49"),
            (50, "50-64"),
            (64, "50-64"),
            (65, "65+"),
            (101, "65+"),
        ],
    )
    def test_each_band_starts_and_ends_at_its_boundaries(self, age, band):
        assert age_band(age) == band

    def test_15_is_under_16_and_16_is_16_to_17(self):
        assert (age_band(15), age_band(16)) == ("under_16", "16-17")

    def test_17_is_16_to_17_and_18_is_an_adult_band(self):
        assert (age_band(17), age_band(18)) == ("16-17", "18-24")

    def test_64_is_50_to_64_and_65_is_65_and_over(self):
        assert (age_band(64), age_band(65)) == ("50-64", "65+")

    def test_an_unknown_age_has_the_unknown_band(self):
        assert age_band(None) == "unknown"

    def test_age_and_band_together_on_a_sixteenth_birthday(self):
        assert age_band(age_on(date(2010, 6, 15), date(2026, 6, 14))) == "under_16"
        assert age_band(age_on(date(2010, 6, 15), date(2026, 6, 15))) == "16-17"


class TestNameKey:
    def test_case_does_not_matter(self):
        assert name_key("ANNA Smith") == name_key("anna SMITH") == "anna smith"

    def test_accents_are_folded(self):
        assert name_key("Zoë Brontë") == name_key("Zoe Bronte") == "zoe bronte"
        assert name_key("José García") == "jose garcia"
        assert name_key("Ångström") == "angstrom"

    def test_punctuation_becomes_a_word_break(self):
        assert name_key("Mary-Jane O'Brien") == "mary jane o brien"
        assert name_key("Smith, John.") == "smith john"

    def test_repeated_and_surrounding_spaces_are_collapsed(self):
        assert name_key("  Anna   Maria \t Smith  ") == "anna maria smith"

    def test_digits_are_dropped(self):
        assert name_key("John Smith 2") == "john smith"

    def test_different_names_keep_different_keys(self):
        assert name_key("Anna Smith") != name_key("Anne Smith")

    def test_an_accented_upper_case_name_matches_its_plain_form(self):
        assert name_key("ÉLODIE  LEFÈVRE-DUPONT") == name_key("Elodie Lefevre Dupont")

    @pytest.mark.parametrize(
        ("spelled", "plain"),
        [("Søren", "Soren"), ("Strauß", "Strauss"), ("Łukasz", "Lukasz"), ("Æsa", "Aesa")],
    )
    def test_letters_without_a_decomposition_match_their_plain_spelling(self, spelled, plain):
        assert name_key(spelled) == name_key(plain)


class TestPhoneKey:
    @pytest.mark.parametrize("written", ["+44 (0)7700 900123", "0044 7700 900123", "+447700900123"])
    def test_every_international_writing_of_a_uk_mobile_agrees(self, written):
        assert phone_key(written) == "07700900123"

    def test_a_foreign_number_keeps_its_country_code(self):
        assert phone_key("+33 1 23 45 67 89") == "33123456789"

    def test_international_and_national_forms_of_a_uk_number_agree(self):
        assert phone_key("+44 7700 900123") == phone_key("07700 900123") == "07700900123"

    def test_spaces_brackets_and_dashes_are_ignored(self):
        assert phone_key("(07700) 900-123") == "07700900123"

    def test_an_international_form_without_spaces_agrees(self):
        assert phone_key("+447700900123") == "07700900123"

    def test_a_landline_in_both_forms_agrees(self):
        assert phone_key("+44 1332 123456") == phone_key("01332 123456")

    def test_different_numbers_keep_different_keys(self):
        assert phone_key("07700 900123") != phone_key("07700 900124")

    @pytest.mark.parametrize("phone", [None, "", "   ", "n/a"])
    def test_no_number_gives_no_key(self, phone):
        assert phone_key(phone) is None
