"""Reading a YAML document (a gate policy, a data schema): each value at a key path, parsed or refused.

A parser takes the raw YAML value and returns it checked, or raises :class:`Bad` saying what was
expected; :class:`Fields` turns that into an InvalidInput naming the file and the key path
(``gate.yaml: checks[2].metric 'acuracy': unknown metric; expected one of …``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from slipway.errors import InvalidInput
from slipway.validation._metrics import METRICS

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "Bad",
    "Fields",
    "Reader",
    "alias",
    "at_least",
    "between_int",
    "boolean",
    "choice",
    "fraction",
    "integer",
    "label",
    "metric_name",
    "non_negative",
    "number",
    "open_unit",
    "plain",
    "positive",
    "positive_int",
    "read_yaml",
    "text",
    "yaml_document",
]


def read_yaml(path: str | Path, noun: str) -> object:
    """The document in a YAML file; a missing, unreadable or malformed file is one line naming it."""
    p = Path(path)
    try:
        content = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{noun} file {str(p)!r}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{noun} file {str(p)!r}: is a folder; expected a YAML file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{noun} file {str(p)!r}: not UTF-8 text; expected YAML") from None
    return yaml_document(content, p.name)


def yaml_document(content: str, where: str) -> object:
    """``yaml.safe_load`` with a syntax error turned into one line naming ``where``, line and column."""
    import yaml

    try:
        return yaml.safe_load(content)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InvalidInput(f"{where}: not valid YAML{at}: {problem}") from None


class Reader:
    """A value at a key path of the document, with the file name for messages."""

    def __init__(self, source: str, path: str, data: object) -> None:
        self.source = source
        self.path = path
        self.data = data

    @property
    def where(self) -> str:
        return f"{self.source}: {self.path}" if self.path else self.source

    def mapping(self) -> Fields:
        if not isinstance(self.data, dict):
            what = "an empty file" if self.data is None and not self.path else _type(self.data)
            raise InvalidInput(f"{self.where}: expected a mapping (key: value), got {what}")
        bad = [k for k in self.data if not isinstance(k, str)]
        if bad:
            raise InvalidInput(f"{self.where}: key {bad[0]!r}: expected text keys")
        return Fields(self.source, self.path, self.data)

    def sequence(self) -> list[object]:
        if not isinstance(self.data, list):
            raise InvalidInput(f"{self.where}: expected a list, got {_type(self.data)}")
        return self.data


class Fields(Reader):
    data: dict[str, Any]

    def at(self, key: str) -> str:
        return f"{self.source}: {self.path}.{key}" if self.path else f"{self.source}: {key}"

    def child(self, key: str) -> Reader:
        if key not in self.data:
            raise InvalidInput(f"{self.at(key)}: missing; it is required")
        return Reader(self.source, f"{self.path}.{key}" if self.path else key, self.data[key])

    def only(self, *keys: str) -> None:
        for key in self.data:
            if key not in keys:
                raise InvalidInput(f"{self.at(key)}: unknown key; expected one of {', '.join(sorted(keys))}")

    def required(self, key: str, parse: Callable[[object], Any]) -> Any:
        if key not in self.data or self.data[key] is None:
            raise InvalidInput(f"{self.at(key)}: missing; expected {_describe(parse)}")
        return self._parse(key, parse)

    def optional(self, key: str, parse: Callable[[object], Any]) -> Any:
        if key not in self.data or self.data[key] is None:
            return None
        return self._parse(key, parse)

    def _parse(self, key: str, parse: Callable[[object], Any]) -> Any:
        value = self.data[key]
        try:
            return parse(value)
        except Bad as exc:
            raise InvalidInput(f"{self.at(key)} {_show(value)}: {exc}") from None


_F = TypeVar("_F", bound="Callable[[object], Any]")


class Bad(Exception):
    """A value that does not parse; the message says what was expected."""


def _describe(parse: Callable[[object], Any]) -> str:
    return getattr(parse, "expected", "a value")


def _expects(description: str) -> Callable[[_F], _F]:
    def mark(fn: _F) -> _F:
        fn.expected = description  # type: ignore[attr-defined]
        return fn

    return mark


def _show(value: object) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _type(value: object) -> str:
    if value is None:
        return "nothing"
    return {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list"}.get(
        type(value), type(value).__name__
    )


@_expects("a number")
def number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Bad(f"expected a number, got {_type(value)}")
    if not math.isfinite(value):
        raise Bad("expected a finite number")
    return float(value)


@_expects("a number >= 0")
def non_negative(value: object) -> float:
    out = number(value)
    if out < 0:
        raise Bad("expected a number >= 0")
    return out


@_expects("a number > 0")
def positive(value: object) -> float:
    out = number(value)
    if out <= 0:
        raise Bad("expected a number > 0")
    return out


@_expects("a fraction from 0 to 1")
def fraction(value: object) -> float:
    out = number(value)
    if not 0 <= out <= 1:
        raise Bad("expected a fraction from 0 to 1 (0.95 means 95%)")
    return out


@_expects("a number between 0 and 1, exclusive")
def open_unit(value: object) -> float:
    out = number(value)
    if not 0 < out < 1:
        raise Bad("expected a number between 0 and 1, exclusive (e.g. 0.95)")
    return out


@_expects("an integer")
def integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Bad(f"expected an integer, got {_type(value)}")
    return value


def between_int(low: int, high: int) -> Callable[[object], int]:
    @_expects(f"an integer from {low} to {high}")
    def parse(value: object) -> int:
        out = integer(value)
        if not low <= out <= high:
            raise Bad(f"expected an integer from {low} to {high}")
        return out

    return parse


def at_least(low: int) -> Callable[[object], int]:
    @_expects(f"an integer >= {low}")
    def parse(value: object) -> int:
        out = integer(value)
        if out < low:
            raise Bad(f"expected an integer >= {low}")
        return out

    return parse


positive_int = at_least(1)


@_expects("true or false")
def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise Bad(f"expected true or false, got {_type(value)}")
    return value


@_expects("text")
def text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Bad(f"expected non-empty text, got {_type(value)}")
    return value


@_expects("an alias name")
def alias(value: object) -> str:
    from slipway.core import validate_alias

    name = text(value)
    try:
        return validate_alias(name)
    except InvalidInput as exc:
        raise Bad(str(exc)) from None


@_expects("a class label (text, a number or a boolean)")
def label(value: object) -> Any:
    if not isinstance(value, (str, int, float, bool)):
        raise Bad(f"expected a class label (text, a number or a boolean), got {_type(value)}")
    return value


def choice(options: tuple[str, ...], noun: str = "value") -> Callable[[object], str]:
    @_expects(f"one of {', '.join(options)}")
    def parse(value: object) -> str:
        if not isinstance(value, str) or value not in options:
            what = f"unknown {noun}" if isinstance(value, str) else f"got {_type(value)}"
            raise Bad(f"{what}; expected one of {', '.join(options)}")
        return value

    return parse


def metric_name(task: Literal["classification", "regression"] | None) -> Callable[[object], str]:
    known = sorted(name for name, spec in METRICS.items() if task is None or spec.task == task)

    @_expects(f"a metric name (one of {', '.join(known)})")
    def parse(value: object) -> str:
        if not isinstance(value, str):
            raise Bad(f"expected a metric name, got {_type(value)}")
        if value not in METRICS:
            raise Bad(f"unknown metric; expected one of {', '.join(known)}")
        if task is not None and METRICS[value].task != task:
            raise Bad(f"a {METRICS[value].task} metric, but the policy's task is {task}")
        return value

    return parse


def plain(value: Any) -> Any:
    """The document with JSON-safe values only (YAML dates become ISO text)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)
