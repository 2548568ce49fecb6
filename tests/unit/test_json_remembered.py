"""The feed's COPY data writes JSON as `json.dumps` does, whatever it remembers
(triage.imports.repository._json_remembered)."""

import json

from hypothesis import given
from hypothesis import strategies as st

from triage.imports.repository import _json_remembered

SCALARS = st.one_of(
    st.booleans(), st.integers(-3, 3), st.floats(-2, 2, allow_nan=False), st.text(max_size=3),
    st.none(),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.one_of(st.text(max_size=2), st.booleans(), st.integers(0, 2)), inner, max_size=4
        )
    ),  # fmt: skip
    max_leaves=8,
)


@given(st.lists(VALUES, min_size=1, max_size=6))
def test_every_value_is_written_as_json_dumps_writes_it(values: list[object]) -> None:
    for value in values + values:  # the second time from memory, where remembered
        assert _json_remembered(value) == json.dumps(value).encode()


def test_look_alikes_are_not_confused() -> None:
    """True == 1 and hash alike in Python; their JSON differs."""
    for value in ([1], [True], ["1"], {"a": 1}, {"a": True}, {"a": "1"}, {1: "a"}, {True: "a"}):
        assert _json_remembered(value) == json.dumps(value).encode()
    assert _json_remembered(["emotional_support"]) is _json_remembered(["emotional_support"])
