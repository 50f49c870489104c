"""The run filter and order-by language, parsed into plain data that each store compiles.

Grammar (case-insensitive keywords, clauses joined by AND)::

    filter   := clause ("and" clause)*
    clause   := ident op value
    ident    := ("metrics" | "params" | "tags" | "attributes") "." key   |   attribute
    key      := name | `any key` | "any key"
    op       := = | != | <> | < | <= | > | >= | like | ilike | in | not in
    value    := number | 'string' | "string" | "(" value ("," value)* ")"
    order_by := ident ["asc" | "desc"] ("," ident ["asc" | "desc"])*

Metrics compare as numbers (the latest value of each); params and tags as strings; attributes by
their own type. A bad filter is an :class:`InvalidInput` naming the clause and what was expected.

Numbers: a metric may be compared with any number, infinities included (``metrics.loss < 1e999``
keeps every run whose loss is finite), since metrics are doubles that may themselves be infinite.
The time attributes are 64-bit integers of milliseconds, so a value outside
``-2**63 .. 2**63-1`` (or infinite) is refused rather than silently matching all or nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from slipway.errors import InvalidInput

Kind = Literal["metric", "param", "tag", "attribute"]
Op = Literal["=", "!=", "<", "<=", ">", ">=", "like", "ilike", "in", "not in"]
Value = float | str | tuple[float | str, ...]

_KINDS: dict[str, Kind] = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
}
#: attribute -> whether it compares as a number
ATTRIBUTES: dict[str, bool] = {
    "run_id": False,
    "name": False,
    "status": False,
    "user": False,
    "experiment_id": False,
    "parent_run_id": False,
    "start_time": True,
    "end_time": True,
}
_ATTRIBUTE_ALIASES = {"id": "run_id", "run_name": "name"}
#: the range of a numeric attribute: the databases' signed 64-bit integer
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_STRING_OPS: frozenset[str] = frozenset({"=", "!=", "like", "ilike", "in", "not in"})
_NUMERIC_OPS: frozenset[str] = frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "not in"})

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<backtick>`[^`]*`)
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),.])
      | (?P<word>[A-Za-z_][A-Za-z0-9_\-:/]*(?:\.[A-Za-z0-9_\-:/]+)*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    kind: Kind
    key: str
    op: Op
    value: Value


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFilter:
    clauses: tuple[Comparison, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderBy:
    kind: Kind
    key: str
    ascending: bool = True


def _tokenize(text: str, *, what: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise InvalidInput(
                f"{what} {text!r}: unexpected character at position {pos}: {text[pos : pos + 10]!r}"
            )
        kind = m.lastgroup
        assert kind is not None
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str, *, what: str) -> None:
        self.text = text
        self.what = what
        self.tokens = _tokenize(text, what=what)
        self.i = 0

    def fail(self, expected: str) -> InvalidInput:
        got = self.tokens[self.i][1] if self.i < len(self.tokens) else "the end"
        return InvalidInput(f"{self.what} {self.text!r}: expected {expected}, got {got!r}")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str = "more input") -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise self.fail(expected)
        self.i += 1
        return tok

    def at_word(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "word" and tok[1].lower() in words

    def ident(self) -> tuple[Kind, str]:
        kind_tok, word = self.take("metrics.<key>, params.<key>, tags.<key> or an attribute")
        if kind_tok != "word":
            self.i -= 1
            raise self.fail("metrics.<key>, params.<key>, tags.<key> or an attribute")
        prefix, dot, rest = word.partition(".")
        kind: Kind
        if prefix.lower() in _KINDS and dot:
            kind, key = _KINDS[prefix.lower()], rest
        elif prefix.lower() in _KINDS and self.peek() == ("punct", "."):
            self.i += 1  # metrics.`a key with spaces`
            quoted, text = self.take("a key name")
            if quoted not in ("backtick", "string"):
                self.i -= 1
                raise self.fail("a key name")
            kind, key = _KINDS[prefix.lower()], text[1:-1]
        elif prefix.lower() in _KINDS:
            raise self.fail(f"'.' and a key after {word!r}")
        else:
            kind, key = "attribute", word
        if kind == "attribute":
            key = _ATTRIBUTE_ALIASES.get(key.lower(), key.lower())
            if key not in ATTRIBUTES:
                raise InvalidInput(
                    f"{self.what} {self.text!r}: unknown attribute {key!r}; expected one of "
                    f"{', '.join(sorted(ATTRIBUTES))} or metrics./params./tags.<key>"
                )
        return kind, key

    def scalar(self) -> float | str:
        kind, tok = self.take("a number or a quoted string")
        if kind == "number":
            return float(tok)
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", tok[1:-1])
        self.i -= 1
        raise self.fail("a number or a quoted string")

    def op(self) -> Op:
        kind, tok = self.take("an operator (=, !=, <, <=, >, >=, like, ilike, in, not in)")
        if kind == "op":
            return "!=" if tok == "<>" else tok  # type: ignore[return-value]
        low = tok.lower()
        if kind == "word" and low in ("like", "ilike", "in"):
            return low  # type: ignore[return-value]
        if kind == "word" and low == "not" and self.at_word("in"):
            self.i += 1
            return "not in"
        self.i -= 1
        raise self.fail("an operator (=, !=, <, <=, >, >=, like, ilike, in, not in)")

    def value(self, op: Op) -> Value:
        if op in ("in", "not in"):
            if self.take("'(' to open a list") != ("punct", "("):
                self.i -= 1
                raise self.fail("'(' to open a list")
            items = [self.scalar()]
            while self.peek() == ("punct", ","):
                self.i += 1
                items.append(self.scalar())
            if self.take("')' to close the list") != ("punct", ")"):
                self.i -= 1
                raise self.fail("')' to close the list")
            return tuple(items)
        return self.scalar()


def _check(clause: Comparison, *, what: str, text: str) -> Comparison:
    numeric = clause.kind == "metric" or (clause.kind == "attribute" and ATTRIBUTES[clause.key])
    values = clause.value if isinstance(clause.value, tuple) else (clause.value,)
    name = clause.key if clause.kind == "attribute" else f"{clause.kind}s.{clause.key}"
    if numeric:
        if clause.op not in _NUMERIC_OPS:
            raise InvalidInput(f"{what} {text!r}: {name} is a number; {clause.op!r} needs a string")
        if not all(isinstance(v, float) for v in values):
            raise InvalidInput(f"{what} {text!r}: {name} is a number; expected a number after {clause.op!r}")
        if clause.kind == "attribute" and not all(_INT64_MIN <= float(v) <= _INT64_MAX for v in values):
            raise InvalidInput(
                f"{what} {text!r}: {name} is a time in milliseconds; expected a number between "
                f"-2**63 and 2**63-1 after {clause.op!r}"
            )
    else:
        if clause.op not in _STRING_OPS:
            raise InvalidInput(
                f"{what} {text!r}: {name} is a string; use =, !=, like, ilike, in or not in "
                f"(quote the value: {name} = '...')"
            )
        if not all(isinstance(v, str) for v in values):
            raise InvalidInput(f"{what} {text!r}: {name} is a string; expected a quoted value, e.g. '1.0'")
    return clause


def parse_filter(text: str | None) -> RunFilter:
    """Parse a filter string; an empty or None filter matches every run."""
    if text is None or not text.strip():
        return RunFilter()
    what = "filter"
    p = _Parser(text, what=what)
    clauses: list[Comparison] = []
    while True:
        kind, key = p.ident()
        op = p.op()
        value = p.value(op)
        clauses.append(_check(Comparison(kind=kind, key=key, op=op, value=value), what=what, text=text))
        if p.peek() is None:
            return RunFilter(clauses=tuple(clauses))
        if not p.at_word("and"):
            raise p.fail("'and' or the end of the filter")
        p.i += 1


def parse_order_by(text: str | list[str] | None) -> tuple[OrderBy, ...]:
    """Parse ``"metrics.auc desc, attributes.start_time"``; a list is joined with commas."""
    if text is None:
        return ()
    if isinstance(text, list):
        text = ", ".join(text)
    if not text.strip():
        return ()
    p = _Parser(text, what="order-by")
    out: list[OrderBy] = []
    while True:
        kind, key = p.ident()
        ascending = True
        if p.at_word("asc", "desc"):
            ascending = p.take()[1].lower() == "asc"
        out.append(OrderBy(kind=kind, key=key, ascending=ascending))
        if p.peek() is None:
            return tuple(out)
        if p.take() != ("punct", ","):
            p.i -= 1
            raise p.fail("',', 'asc', 'desc' or the end")
