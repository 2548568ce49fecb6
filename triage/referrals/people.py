"""Pure helpers about the victim as a person: age, age band, keys for linking referrals."""

import re
import unicodedata
from datetime import date

AGE_BANDS = (
    (0, 15, "under_16"),
    (16, 17, "16-17"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 49, "35-49"),
    (50, 64, "50-64"),
)


def age_on(date_of_birth: date | None, day: date) -> int | None:
    """Age in whole years on `day`, or None when the date of birth is unknown."""
    if date_of_birth is None:
        return None
    had_birthday = (day.month, day.day) >= (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - (0 if had_birthday else 1)


def age_band(age: int | None) -> str:
    """The band shown to a provider instead of a date of birth."""
    if age is None:
        return "unknown"
    for low, high, band in AGE_BANDS:
        if low <= age <= high:
            return band
    return "65+"


# Letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "đ": "d",
        "Đ": "D",
        "œ": "oe",
        "Œ": "OE",
        "þ": "th",
        "Þ": "TH",
        "ð": "d",
        "Ð": "D",
    }
)


def name_key(full_name: str) -> str:
    """A name folded for matching: no accents, case, punctuation or repeated spaces."""
    spelled = full_name.translate(_UNDECOMPOSED)
    folded = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z ]+", " ", folded.lower()).split())


def phone_key(phone: str | None) -> str | None:
    """A UK phone number reduced to its national digits (`+44 7700…` and `07700…` agree)."""
    if not phone:
        return None
    international = phone.strip().startswith(("+", "00"))
    digits = re.sub(r"\D", "", phone)
    if international:
        digits = digits.removeprefix("00")
        if digits.startswith("44"):
            # "+44 (0)7700 …" carries the trunk zero as well: keep one.
            digits = "0" + digits[2:].removeprefix("0")
    return digits or None
