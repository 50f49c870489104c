from __future__ import annotations

import pytest

from slipway import errors


def test_every_error_subclasses_the_builtin_generic_code_expects() -> None:
    assert issubclass(errors.RunNotFound, LookupError)
    assert issubclass(errors.InvalidInput, ValueError)
    assert issubclass(errors.MissingExtra, ImportError)
    assert issubclass(errors.Unauthorized, PermissionError)


@pytest.mark.parametrize(
    "cls", [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.SlipwayError)]
)
def test_errors_round_trip_through_their_wire_code(cls: type[errors.SlipwayError]) -> None:
    rebuilt = errors.error_from_code(cls.code, "run 'x' not found")
    assert type(rebuilt) is cls
    assert str(rebuilt) == "run 'x' not found"
    assert 400 <= cls.status < 600


def test_codes_are_unique_and_unknown_codes_fall_back_to_the_base() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.SlipwayError)]
    assert len({c.code for c in classes}) == len(classes)
    assert type(errors.error_from_code("no_such_code", "m")) is errors.SlipwayError
