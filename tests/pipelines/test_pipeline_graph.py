"""The graph: built from data dependencies (handles) or wired by name, and its bad-input errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import slipway
from slipway.errors import InvalidInput
from slipway.pipelines import File, Handle, Pipeline, Step
from slipway.pipelines._graph import params_from_args


@slipway.step
def load(path: Path) -> list[int]:
    return [1, 2, 3]


@slipway.step(outputs=("train", "test"))
def split(rows: list[int], ratio: float = 0.5) -> tuple[list[int], list[int]]:
    n = int(len(rows) * ratio)
    return rows[:n], rows[n:]


@slipway.step
def fit(train: list[int], C: float = 1.0) -> float:
    return sum(train) * C


@slipway.step
def score(fit: float, test: list[int]) -> float:
    return fit + sum(test)


@slipway.pipeline
def handles(data: Path = Path("data.csv"), C: float = 1.0, folds: int = 1, deep: bool = False) -> None:
    train, test = split(load(data))
    model = fit(train, C=C)
    score(model, test)
    fit(test, C=C * 2)


def test_the_graph_is_the_data_dependencies_of_the_step_calls() -> None:
    graph = handles.build({"C": 0.5})

    assert list(graph.nodes) == ["load", "split", "fit", "fit_2", "score"]
    assert graph.nodes["split"].inputs == {"rows": Handle("load", "load")}
    assert graph.nodes["score"].inputs == {"fit": Handle("fit", "fit"), "test": Handle("split", "test")}
    assert graph.nodes["score"].upstream == ("fit", "split")
    assert graph.nodes["fit_2"].params == {"C": 1.0}
    assert graph.nodes["load"].files == {"path": Path("data.csv")}
    assert graph.nodes["split"].params == {"ratio": 0.5}  # defaults are parameters too
    assert graph.params == {"data": Path("data.csv"), "C": 0.5, "folds": 1, "deep": False}


def test_parameters_are_typed_by_annotation_or_default() -> None:
    parsed = handles.parse_params({"C": "0.25", "folds": "3", "deep": "yes", "data": "other.parquet"})

    assert parsed == {"C": 0.25, "folds": 3, "deep": True, "data": Path("other.parquet")}


def test_param_arguments_follow_one_rule_with_or_without_a_pipeline() -> None:
    args = ["C=0.25", "folds=3"]

    assert params_from_args(args, pipeline=handles) == {"C": 0.25, "folds": 3}
    assert params_from_args([*args, "name=x", "grid=[1, 2]"]) == {
        "C": 0.25,
        "folds": 3,
        "name": "x",
        "grid": [1, 2],
    }
    for bad in ("C", "=1", "a-b=1"):
        with pytest.raises(InvalidInput, match=f"--param '{bad}': expected NAME=VALUE"):
            params_from_args([bad])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"C": "high"}, "--param C='high': expected float"),
        ({"folds": "2.5"}, "--param folds='2.5': expected int"),
        ({"gamma": "1"}, "pipeline handles: unknown parameter 'gamma' (parameters: data, C, folds, deep)"),
    ],
)
def test_a_bad_parameter_is_one_line_naming_it(raw: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        handles.parse_params(raw)

    assert str(caught.value) == message


def test_a_parameter_without_default_must_be_given() -> None:
    @slipway.pipeline
    def needs(rows: list[int]) -> None:
        fit(rows)

    with pytest.raises(InvalidInput, match=r"parameter 'rows' has no default; pass --param rows=VALUE"):
        needs.build()
    assert needs.parse_params({"rows": "[1, 2]"}) == {"rows": [1, 2]}


def test_a_missing_input_is_one_line_naming_the_step() -> None:
    @slipway.pipeline
    def broken() -> None:
        fit()

    with pytest.raises(InvalidInput) as caught:
        broken.build()

    assert str(caught.value) == (
        "step fit: missing a required argument: 'train' (pass another step's output or a value)"
    )


def test_a_parameter_that_is_not_a_json_value_is_refused() -> None:
    @slipway.pipeline
    def odd() -> None:
        fit([1], C=object())

    with pytest.raises(
        InvalidInput, match=r"^step fit: parameter 'C' = <object object at .*>: a parameter must"
    ):
        odd.build()


def test_a_handle_has_no_value_while_the_pipeline_is_built() -> None:
    @slipway.pipeline
    def branching() -> None:
        rows = load(Path("x"))
        if rows:
            fit(rows)

    @slipway.pipeline
    def unpacking() -> None:
        _a, _b = load(Path("x"))

    with pytest.raises(
        InvalidInput, match=r"^step load: its output has no value while the pipeline is built"
    ):
        branching.build()
    with pytest.raises(InvalidInput, match=r"declare them, e.g. @slipway.step\(outputs="):
        unpacking.build()


def test_a_pipeline_called_inside_another_adds_its_steps() -> None:
    @slipway.pipeline
    def prepare(data: Path = Path("d")) -> object:
        return split(load(data))

    @slipway.pipeline
    def outer() -> None:
        train, _ = prepare(data=File("e.parquet"))
        fit(train)

    graph = outer.build()

    assert list(graph.nodes) == ["load", "split", "fit"]
    assert graph.nodes["load"].files == {"path": Path("e.parquet")}


def test_wired_by_name_every_argument_no_step_produces_is_a_parameter() -> None:
    wired = slipway.pipeline(steps=[score, fit, split, load], name="wired")

    assert set(wired.parameters()) == {"path", "rows", "ratio", "C"}


def test_wiring_by_name_orders_the_steps_and_names_what_no_step_produces() -> None:
    @slipway.step
    def rows(path: Path) -> list[int]:
        return [1]

    wired = slipway.pipeline(steps=[score, fit, split, rows], name="wired")

    graph = wired.build({"path": Path("d.csv")})

    assert list(graph.nodes) == ["rows", "split", "fit", "score"]
    assert graph.nodes["split"].inputs == {"rows": Handle("rows", "rows")}
    assert graph.nodes["score"].inputs == {"fit": Handle("fit", "fit"), "test": Handle("split", "test")}
    with pytest.raises(InvalidInput) as caught:
        slipway.pipeline(steps=[score, fit, split], name="wired").build()
    assert str(caught.value) == (
        "pipeline wired: step split: input 'rows' is produced by no step and has no default; "
        "pass --param rows=VALUE"
    )


def test_a_cycle_is_one_line_naming_it() -> None:
    @slipway.step
    def a(c: int) -> int:
        return c

    @slipway.step
    def b(a: int) -> int:
        return a

    @slipway.step
    def c(b: int) -> int:
        return b

    @slipway.step
    def d(c: int) -> int:
        return c

    with pytest.raises(InvalidInput) as caught:
        slipway.pipeline(steps=[d, a, b, c], name="loop").build()

    assert str(caught.value) == "pipeline loop: cycle: a → b → c → a"


def test_two_steps_producing_one_name_is_an_error() -> None:
    @slipway.step(name="fit")
    def other(rows: list[int]) -> float:
        return 0.0

    with pytest.raises(InvalidInput, match=r"^pipeline p: two steps are named 'fit'$"):
        slipway.pipeline(steps=[fit, other], name="p")


def test_a_step_is_its_function_outside_a_pipeline_and_pickles_by_reference() -> None:
    assert split([1, 2, 3, 4]) == ([1, 2], [3, 4])
    assert pickle.loads(pickle.dumps(split)) is split
    assert isinstance(split, Step)
    assert isinstance(handles, Pipeline)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"expires_after": 0}, "step f: expires_after 0: expected a positive number of seconds"),
        ({"outputs": ("a", "a")}, "step f: outputs ('a', 'a'): names must differ"),
        ({"outputs": ("not a name",)}, "step f: outputs ('not a name',): expected one or more identifiers"),
    ],
)
def test_bad_step_options_are_one_line(options: dict[str, object], message: str) -> None:
    def f() -> None:
        return None

    with pytest.raises(InvalidInput) as caught:
        slipway.step(**options)(f)  # type: ignore[call-overload]

    assert str(caught.value) == message
