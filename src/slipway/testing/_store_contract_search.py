"""The search part of the metadata-store contract (filters, ordering, paging, scoping)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from slipway.core import Metric, Run, RunStatus
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from slipway.store import MetadataStore


@dataclass
class Population:
    """Five runs with known attributes, params, tags and metrics in a fresh experiment."""

    experiment_id: str
    runs: dict[str, Run]

    def names(self, runs: list[Run]) -> list[str]:
        by_id = {r.id: name for name, r in self.runs.items()}
        return [by_id[r.id] for r in runs]


@dataclass(frozen=True)
class _Spec:
    start: int
    status: RunStatus
    end: int | None
    user: str
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]


_R, _F, _X = RunStatus.RUNNING, RunStatus.FINISHED, RunStatus.FAILED
_SPEC = {  # delta is a child of alpha
    "alpha": _Spec(
        1000, _F, 1500, "ada", {"acc": 0.9, "loss": 0.1}, {"opt": "adam", "lr": "0.1"}, {"stage": "prod"}
    ),
    "beta": _Spec(
        2000, _R, None, "bob", {"acc": 0.7, "loss": 0.3}, {"opt": "Adam", "lr": "0.01"}, {"stage": "dev"}
    ),
    "gamma": _Spec(3000, _X, 3500, "ada", {"acc": 0.8}, {"opt": "sgd"}, {}),
    "delta": _Spec(4000, _R, None, "cy", {}, {}, {"stage": "dev"}),
    "eps": _Spec(
        5000, _F, 5200, "bob", {"acc": 0.7, "loss": 0.2}, {"opt": "adagrad", "lr": "0.1"}, {"stage": "prod"}
    ),
}


def _populate(store: MetadataStore) -> Population:
    exp = store.create_experiment(name=f"contract-search-{uuid.uuid4().hex}")
    created: dict[str, Run] = {}
    for name, spec in _SPEC.items():
        parent = created["alpha"].id if name == "delta" else None
        run = store.create_run(
            experiment_id=exp.id,
            name=name,
            user=spec.user,
            start_time=spec.start,
            tags=spec.tags,
            parent_run_id=parent,
        )
        metrics = [Metric(key=k, value=v, step=1, timestamp=spec.start) for k, v in spec.metrics.items()]
        store.log_batch(run.id, params=spec.params, metrics=metrics)
        if spec.status is not RunStatus.RUNNING:
            store.end_run(run.id, status=spec.status, end_time=spec.end)
        created[name] = store.get_run(run.id)
    return Population(experiment_id=exp.id, runs=created)


class SearchContract:
    """Searching runs: every filter kind and operator, ordering, paging and experiment scoping."""

    @pytest.fixture
    def population(self, store: MetadataStore) -> Population:
        return _populate(store)

    @staticmethod
    def _search(store: MetadataStore, pop: Population, **kwargs: object) -> list[str]:
        page = store.search_runs(experiment_ids=[pop.experiment_id], max_results=100, **kwargs)  # type: ignore[arg-type]
        assert page.next_token is None
        return pop.names(page.items)

    def test_default_order_is_newest_first(self, store: MetadataStore, population: Population) -> None:
        assert self._search(store, population) == ["eps", "delta", "gamma", "beta", "alpha"]

    def test_search_returns_whole_runs(self, store: MetadataStore, population: Population) -> None:
        page = store.search_runs(experiment_ids=[population.experiment_id])
        assert sorted(page.items, key=lambda r: r.start_time) == list(population.runs.values())

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("metrics.acc = 0.7", {"beta", "eps"}),
            ("metrics.acc != 0.7", {"alpha", "gamma"}),
            ("metrics.acc < 0.8", {"beta", "eps"}),
            ("metrics.acc <= 0.8", {"beta", "gamma", "eps"}),
            ("metrics.acc > 0.8", {"alpha"}),
            ("metrics.acc >= 0.8", {"alpha", "gamma"}),
            ("metrics.acc in (0.9, 0.8)", {"alpha", "gamma"}),
            ("metrics.acc not in (0.9)", {"beta", "gamma", "eps"}),
            ("metrics.loss >= 0", {"alpha", "beta", "eps"}),
            ("params.opt = 'adam'", {"alpha"}),
            ("params.opt != 'adam'", {"beta", "gamma", "eps"}),
            ("params.opt like 'ada%'", {"alpha", "eps"}),
            ("params.opt ilike 'ada%'", {"alpha", "beta", "eps"}),
            ("params.opt like '_gd'", {"gamma"}),
            ("params.opt in ('sgd', 'adam')", {"alpha", "gamma"}),
            ("params.opt not in ('sgd')", {"alpha", "beta", "eps"}),
            ("params.lr = '0.1'", {"alpha", "eps"}),
            ("tags.stage = 'dev'", {"beta", "delta"}),
            ("tags.stage != 'dev'", {"alpha", "eps"}),
            ("tags.stage like 'pr%'", {"alpha", "eps"}),
            ("tags.stage ilike 'DEV'", {"beta", "delta"}),
            ("tags.stage in ('prod')", {"alpha", "eps"}),
            ("tags.stage not in ('prod')", {"beta", "delta"}),
            ("attributes.status = 'RUNNING'", {"beta", "delta"}),
            ("status != 'RUNNING'", {"alpha", "gamma", "eps"}),
            ("status in ('FINISHED', 'FAILED')", {"alpha", "gamma", "eps"}),
            ("attributes.name = 'gamma'", {"gamma"}),
            ("run_name like '%lta'", {"delta"}),
            ("name ilike 'ALP%'", {"alpha"}),
            ("user = 'ada'", {"alpha", "gamma"}),
            ("user not in ('ada', 'bob')", {"delta"}),
            ("start_time >= 3000", {"gamma", "delta", "eps"}),
            ("attributes.start_time < 2000", {"alpha"}),
            ("start_time = 2000", {"beta"}),
            ("start_time != 2000", {"alpha", "gamma", "delta", "eps"}),
            ("start_time in (1000, 5000)", {"alpha", "eps"}),
            ("start_time <= 1000", {"alpha"}),
            ("start_time > 4000", {"eps"}),
            ("end_time > 3000", {"gamma", "eps"}),
            ("metrics.acc >= 0.7 and params.lr = '0.1'", {"alpha", "eps"}),
            ("tags.stage = 'prod' AND attributes.user = 'bob' and metrics.loss < 1", {"eps"}),
            ("metrics.never_logged > 0", set()),
        ],
    )
    def test_filter(
        self, store: MetadataStore, population: Population, text: str, expected: set[str]
    ) -> None:
        names = self._search(store, population, filter=text)
        assert sorted(names) == sorted(expected)

    def test_filter_on_ids(self, store: MetadataStore, population: Population) -> None:
        alpha = population.runs["alpha"]
        assert self._search(store, population, filter=f"run_id = '{alpha.id}'") == ["alpha"]
        assert self._search(store, population, filter=f"attributes.parent_run_id = '{alpha.id}'") == ["delta"]
        assert (
            len(self._search(store, population, filter=f"experiment_id = '{population.experiment_id}'")) == 5
        )

    @pytest.mark.parametrize(
        ("order_by", "expected"),
        [
            ("metrics.loss asc", ["alpha", "eps", "beta", "delta", "gamma"]),
            ("metrics.loss", ["alpha", "eps", "beta", "delta", "gamma"]),
            ("metrics.loss desc", ["beta", "eps", "alpha", "delta", "gamma"]),
            ("metrics.acc desc", ["alpha", "gamma", "eps", "beta", "delta"]),  # ties: newest first
            ("metrics.acc asc", ["eps", "beta", "gamma", "alpha", "delta"]),
            ("params.lr asc", ["beta", "eps", "alpha", "delta", "gamma"]),
            ("params.lr desc", ["eps", "alpha", "beta", "delta", "gamma"]),
            ("tags.stage asc", ["delta", "beta", "eps", "alpha", "gamma"]),
            ("tags.stage desc", ["eps", "alpha", "delta", "beta", "gamma"]),
            ("attributes.start_time asc", ["alpha", "beta", "gamma", "delta", "eps"]),
            ("start_time desc", ["eps", "delta", "gamma", "beta", "alpha"]),
            ("name", ["alpha", "beta", "delta", "eps", "gamma"]),
            ("attributes.end_time desc", ["eps", "gamma", "alpha", "delta", "beta"]),
            ("end_time asc", ["alpha", "gamma", "eps", "delta", "beta"]),
            ("tags.stage asc, metrics.loss desc", ["beta", "delta", "eps", "alpha", "gamma"]),
            ("user desc, metrics.acc asc", ["delta", "eps", "beta", "gamma", "alpha"]),
        ],
    )
    def test_order_by(
        self, store: MetadataStore, population: Population, order_by: str, expected: list[str]
    ) -> None:
        assert self._search(store, population, order_by=order_by) == expected

    def test_order_by_a_list(self, store: MetadataStore, population: Population) -> None:
        names = self._search(store, population, order_by=["tags.stage asc", "metrics.loss desc"])
        assert names == ["beta", "delta", "eps", "alpha", "gamma"]

    def test_filter_and_order_together(self, store: MetadataStore, population: Population) -> None:
        names = self._search(store, population, filter="metrics.acc >= 0.7", order_by="metrics.loss desc")
        assert names == ["beta", "eps", "alpha", "gamma"]

    def test_nan_matches_no_comparison_and_sorts_with_the_missing(self, store: MetadataStore) -> None:
        exp = store.create_experiment(name=f"contract-nan-{uuid.uuid4().hex}")
        ids = {}
        for name, value, start in (
            ("one", 1.0, 1),
            ("nan", math.nan, 2),
            ("zero", 0.0, 3),
            ("inf", math.inf, 4),
        ):
            run = store.create_run(experiment_id=exp.id, name=name, start_time=start)
            store.log_batch(run.id, metrics=[Metric(key="acc", value=value)])
            ids[run.id] = name

        def names(**kwargs: object) -> list[str]:
            return [ids[r.id] for r in store.search_runs(experiment_ids=[exp.id], **kwargs).items]  # type: ignore[arg-type]

        assert names(order_by="metrics.acc desc") == ["inf", "one", "zero", "nan"]
        assert names(order_by="metrics.acc asc") == ["zero", "one", "inf", "nan"]
        assert sorted(names(filter="metrics.acc > -1")) == ["inf", "one", "zero"]

    @pytest.mark.parametrize(
        "order_by", [None, "metrics.loss asc", "metrics.loss desc", "params.lr", "end_time"]
    )
    @pytest.mark.parametrize("page_size", [1, 2, 3])
    def test_paging_visits_every_run_once_in_order(
        self, store: MetadataStore, population: Population, order_by: str | None, page_size: int
    ) -> None:
        everything = self._search(store, population, order_by=order_by)
        seen: list[str] = []
        token: str | None = None
        pages = 0
        while True:
            page = store.search_runs(
                experiment_ids=[population.experiment_id],
                order_by=order_by,
                max_results=page_size,
                page_token=token,
            )
            pages += 1
            assert len(page.items) <= page_size
            seen += population.names(page.items)
            token = page.next_token
            if token is None:
                break
            assert pages < 10, "paging never ends"
        assert seen == everything
        assert pages == math.ceil(5 / page_size)

    @pytest.mark.parametrize(
        "other",
        [
            {"filter": "metrics.acc > 0"},
            {"order_by": "metrics.loss desc"},
            {"experiment_ids": []},
        ],
        ids=["filter", "order", "experiments"],
    )
    def test_a_page_token_belongs_to_its_search(
        self, store: MetadataStore, population: Population, other: dict[str, object]
    ) -> None:
        first = store.search_runs(experiment_ids=[population.experiment_id], max_results=2)
        assert first.next_token is not None
        query: dict[str, object] = {"experiment_ids": [population.experiment_id], **other}

        with pytest.raises(InvalidInput, match="another search"):
            store.search_runs(max_results=2, page_token=first.next_token, **query)  # type: ignore[arg-type]

    def test_a_page_token_survives_respelling_the_same_search(
        self, store: MetadataStore, population: Population
    ) -> None:
        first = store.search_runs(
            experiment_ids=[population.experiment_id],
            filter="metrics.acc >= 0.7",
            order_by="name",
            max_results=2,
        )
        rest = store.search_runs(
            experiment_ids=[population.experiment_id],
            filter="  metrics.acc>=0.7 ",
            order_by=["attributes.name ASC"],
            max_results=10,
            page_token=first.next_token,
        )
        assert population.names(first.items + rest.items) == ["alpha", "beta", "eps", "gamma"]
        assert rest.next_token is None

    def test_exact_page_has_no_next_token(self, store: MetadataStore, population: Population) -> None:
        page = store.search_runs(experiment_ids=[population.experiment_id], max_results=5)
        assert len(page.items) == 5
        assert page.next_token is None

    def test_search_is_scoped_to_experiments(self, store: MetadataStore, population: Population) -> None:
        other = store.create_experiment(name=f"contract-other-{uuid.uuid4().hex}")
        stranger = store.create_run(experiment_id=other.id, start_time=9_000)
        store.log_batch(stranger.id, metrics=[Metric(key="loss", value=0.0)])

        assert stranger.id not in {
            r.id for r in store.search_runs(experiment_ids=[population.experiment_id]).items
        }
        assert stranger.id not in {
            r.id
            for r in store.search_runs(
                experiment_ids=[population.experiment_id], order_by="metrics.loss"
            ).items
        }
        both = store.search_runs(
            experiment_ids=[population.experiment_id, other.id], order_by="metrics.loss asc"
        )
        assert [r.id for r in both.items][:2] == [stranger.id, population.runs["alpha"].id]
        assert len(both.items) == 6

    @pytest.mark.parametrize(
        "text",
        [
            "metrics.acc >",
            "params.opt > 'a'",
            "nonsense = 1",
            "metrics.acc = 'x'",
            "params.lr = 0.1",
            "metrics.acc > 1 or metrics.acc < 0",
            "metrics.acc > 1 and",
        ],
    )
    def test_bad_filter_is_invalid_input(
        self, store: MetadataStore, population: Population, text: str
    ) -> None:
        with pytest.raises(InvalidInput):
            store.search_runs(experiment_ids=[population.experiment_id], filter=text)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("metrics.acc > 1e19", set()),
            ("metrics.acc < 1e19", {"alpha", "beta", "gamma", "eps"}),
            ("metrics.acc < 1e999", {"alpha", "beta", "gamma", "eps"}),  # 1e999 is infinity
            ("metrics.acc in (0.9, 1e300)", {"alpha"}),
            ("start_time > 9e18", set()),
            ("end_time >= -9e18", {"alpha", "gamma", "eps"}),
        ],
    )
    def test_filter_with_huge_numbers(
        self, store: MetadataStore, population: Population, text: str, expected: set[str]
    ) -> None:
        assert sorted(self._search(store, population, filter=text)) == sorted(expected)

    @pytest.mark.parametrize(
        "text", ["attributes.start_time > 1e19", "end_time < -1e19", "start_time in (1, 1e999)"]
    )
    def test_times_beyond_64_bits_in_a_filter_are_invalid_input(
        self, store: MetadataStore, population: Population, text: str
    ) -> None:
        with pytest.raises(InvalidInput, match="time"):
            store.search_runs(experiment_ids=[population.experiment_id], filter=text)

    @pytest.mark.parametrize("order_by", ["metrics.acc sideways", "no_such_attribute", "metrics."])
    def test_bad_order_by_is_invalid_input(
        self, store: MetadataStore, population: Population, order_by: str
    ) -> None:
        with pytest.raises(InvalidInput):
            store.search_runs(experiment_ids=[population.experiment_id], order_by=order_by)

    @pytest.mark.parametrize("token", ["garbage!!", "bm90LWEtdG9rZW4", "%%%"])
    def test_bad_page_token_is_invalid_input(
        self, store: MetadataStore, population: Population, token: str
    ) -> None:
        with pytest.raises(InvalidInput):
            store.search_runs(experiment_ids=[population.experiment_id], page_token=token)

    @pytest.mark.parametrize("max_results", [0, -1])
    def test_bad_max_results_is_invalid_input(
        self, store: MetadataStore, population: Population, max_results: int
    ) -> None:
        with pytest.raises(InvalidInput):
            store.search_runs(experiment_ids=[population.experiment_id], max_results=max_results)
