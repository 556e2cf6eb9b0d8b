"""The exception hierarchy of docs/errors.md and its mapping from the Rust core."""

import pytest

import keyscope
from keyscope import _keyscope
from keyscope.errors import BY_CODE


def test_every_core_code_has_a_class():
    assert sorted(_keyscope.error_codes()) == sorted(BY_CODE)
    assert len(BY_CODE) == 15


@pytest.mark.parametrize("code", _keyscope.error_codes())
def test_core_errors_raise_the_class_of_their_code(code):
    exc = _keyscope._exception_for_code(code, "boom")
    assert type(exc) is BY_CODE[code]
    assert isinstance(exc, keyscope.KeyscopeError)
    assert exc.code == code
    assert str(exc) == "boom"


def test_invalid_input_is_a_value_error_naming_the_field(store):
    with pytest.raises(ValueError) as info:
        store.create_key("ok", grants=["reports:admin"])
    assert isinstance(info.value, keyscope.InvalidInput)
    assert info.value.field == "grants[0]"
    assert "reports:admin" in str(info.value)


def test_not_found_is_a_lookup_error(store):
    with pytest.raises(LookupError):
        store.get_key("0" * 32)
