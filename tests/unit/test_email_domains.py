"""E-mail addresses are checked as email-validator checks them, with each domain's answer
remembered (triage.bounds): every address gets the answer it would get without the memory."""

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import EmailStr, TypeAdapter, ValidationError

import triage.bounds  # noqa: F401  (installs the memory)

EMAIL = TypeAdapter(EmailStr)
MODULE = importlib.import_module("email_validator.validate_email")
DOMAINS = st.sampled_from(
    ["example.com", "EXAMPLE.org", "mail.example.co.uk", "exämple.de", "xn--exmple-cua.de",
     "example", "example..com", "-example.com", "example.com.", "localhost", "a" * 64 + ".com",
     "[127.0.0.1]", "ex_ample.com", "münchen.invalid", "", "example.c"]
)  # fmt: skip
LOCALS = st.one_of(
    st.from_regex(r"\A[a-zA-Z0-9._%+-]{0,20}\Z"), st.text(max_size=12), st.just("Postmaster")
)


def answer(address: str) -> str:
    try:
        return "ok " + EMAIL.validate_python(address)
    except ValidationError as error:
        return "error " + error.errors()[0]["msg"]


@contextmanager
def without_memory() -> Iterator[None]:
    remembered = MODULE.validate_email_domain_name
    MODULE.validate_email_domain_name = remembered.__wrapped__
    try:
        yield
    finally:
        MODULE.validate_email_domain_name = remembered


def test_domains_are_remembered() -> None:
    check = MODULE.validate_email_domain_name
    assert hasattr(check, "cache_info"), "triage.bounds wraps email-validator's domain check"
    before = check.cache_info().hits
    answer("one@remembered.example.com")
    answer("two@remembered.example.com")
    assert check.cache_info().hits > before


@settings(max_examples=300)
@given(LOCALS, DOMAINS, st.booleans())
def test_every_answer_is_the_one_without_memory(local: str, domain: str, twice: bool) -> None:
    address = f"{local}@{domain}"
    remembered = [answer(address) for _ in range(2 if twice else 1)]
    with without_memory():
        plain = answer(address)
    assert remembered == [plain] * len(remembered)


@given(st.emails())
def test_generated_addresses_agree(address: str) -> None:
    remembered = answer(address)
    with without_memory():
        assert answer(address) == remembered
