"""``load_model`` and the one predictor interface every flavor is loaded as.

Loading a folder runs, in this order, and nothing of the model is executed before step 3:

1. the manifest's own digest (and, for a run's model, the digest the run recorded for it);
2. every file's digest: a changed, missing or unlisted file is an IntegrityViolation naming it;
3. the environment check: each recorded requirement against what is installed, every mismatch named
   (a warning, or EnvironmentMismatch with ``strict_env=True``);
4. the model's ``code/`` put first on ``sys.path`` (any module of the same name already imported from
   elsewhere is evicted from ``sys.modules``, so this model's own verified code runs), then the
   flavor's loader (an unpickle, for most).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import sys
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.core import LocalModelUri, RegistryModelUri, RunModelUri, parse_model_uri
from slipway.errors import EnvironmentMismatch, IntegrityViolation, InvalidInput, NotFound
from slipway.models._enforce import ExtraColumns, InputEnforcer
from slipway.models._flavor import get_flavor
from slipway.models._infer import as_data, decode_example
from slipway.models._integrity import verify_folder
from slipway.models._manifest import MANIFEST_FILE, Manifest, parse_manifest
from slipway.models._reference import REFERENCE_FILE, ReferenceSummary
from slipway.models._requirements import Mismatch, check_environment
from slipway.models._warnings import EnvironmentMismatchWarning

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterator, Mapping

    from slipway.artifacts import BlobStore
    from slipway.core import Signature
    from slipway.store import MetadataStore

__all__ = ["Model", "load_model"]


class Model:
    """A loaded model: ``predict`` (and ``predict_proba`` where the model has it), whatever its flavor.

    Input is a DataFrame, an ndarray, a dict of columns (or one record) or a list of records; it is
    checked against the signature (see :mod:`slipway.models._enforce`) before the model sees it.
    Output is what the model returns, as an ndarray (lists and Series are converted) or a DataFrame.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        *,
        path: Path,
        manifest: Manifest,
        raw: object,
        methods: Mapping[str, Callable[..., Any]],
        extra_columns: ExtraColumns = "drop",
        environment: list[Mismatch] | None = None,
        finite_check: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.raw = raw
        self._methods = dict(methods)
        self.environment = environment or []
        sig = manifest.signature
        self._enforce = InputEnforcer(sig.inputs, extra_columns=extra_columns) if sig is not None else None
        self._has_params = sig is not None and bool(sig.params)  # defaults to fill in on every call
        self._example: Any = None
        self._finite_check = finite_check

    @property
    def finite_only(self) -> bool:
        """Whether the model refuses NaN and infinity and its flavor can leave that check to the caller."""
        return self._finite_check is not None

    def trust_finite_inputs(self) -> None:
        """In the calling thread only, the model no longer looks for NaN and infinity in its input.

        For a thread whose every call gets input its caller checked to be finite (the inference
        server's predict thread, behind a codec built with ``finite=True``): scikit-learn's search
        of every value costs a one-row predict about a tenth of its time. A no-op unless
        :attr:`finite_only`.
        """
        if self._finite_check is not None:
            self._finite_check()

    def __repr__(self) -> str:
        return f"Model(flavor={self.flavor!r}, path={str(self.path)!r}, methods={list(self._methods)})"

    @property
    def flavor(self) -> str:
        return self.manifest.flavor

    @property
    def signature(self) -> Signature | None:
        return self.manifest.signature

    @property
    def methods(self) -> tuple[str, ...]:
        """The prediction methods this model offers, e.g. ``("predict", "predict_proba")``."""
        return tuple(self._methods)

    @property
    def input_example(self) -> Any:
        """The example saved with the model (a DataFrame, ndarray or dict of arrays), or None."""
        if self._example is None and self.manifest.input_example is not None:
            doc = json.loads((self.path / self.manifest.input_example).read_text())
            self._example = decode_example(doc)
        return self._example

    def reference(self) -> ReferenceSummary | None:
        """The summary of the training data saved with the model (monitoring's baseline), or None.

        Its digest was verified with every other file when the model was loaded.
        """
        file = self.path / REFERENCE_FILE
        if not file.is_file():
            return None
        return ReferenceSummary.from_bytes(file.read_bytes(), source=str(file))

    def predict(self, data: object, *, params: Mapping[str, Any] | None = None) -> Any:
        return self._call("predict", data, params)

    def predict_proba(self, data: object) -> Any:
        """Class probabilities; InvalidInput if the model has none (see ``methods``)."""
        return self._call("predict_proba", data, None)

    def call_checked(self, method: str, data: object, params: Mapping[str, Any] | None = None) -> Any:
        """Call ``method`` on input that already matches the signature exactly, without checking it again.

        For callers that built the input from the signature themselves: the inference server's
        codec casts every request to the signature's types and shapes, so the enforcer would only
        confirm it (about a tenth of a one-row request's work at the server). Input that does not
        match reaches the model unchecked; everyone else calls :meth:`predict`.
        """
        return self._call(method, data, params, checked=True)

    def _call(
        self, method: str, data: object, params: Mapping[str, Any] | None, *, checked: bool = False
    ) -> Any:
        fn = self._methods.get(method)
        if fn is None:
            raise InvalidInput(
                f"this {self.flavor} model ({self.manifest.options.get('estimator', 'model')}) "
                f"has no {method}; "
                f"it offers {', '.join(self._methods) or 'nothing'}"
            )
        if checked:
            enforced = data
        elif self._enforce is not None:
            enforced = self._enforce(data)
        else:
            enforced = as_data(data)
        resolved = self._params(params) if params or self._has_params else None
        out = fn(enforced, params=resolved) if resolved else fn(enforced)
        return _as_output(out)

    def _params(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        specs = self.signature.params if self.signature is not None else None
        if specs is None:
            return dict(given or {})
        known = {p.name: p for p in specs}
        unknown = sorted(set(given or {}) - set(known))
        if unknown:
            raise InvalidInput(
                f"params {unknown}: not in the signature (known: {', '.join(known) or 'none'})"
            )
        out = {name: spec.default for name, spec in known.items() if spec.default is not None}
        for name, value in (given or {}).items():
            out[name] = known[name].check(value)
        return out


def _as_output(out: Any) -> Any:
    import numpy as np

    if type(out) is np.ndarray:  # what most models return: nothing to convert
        return out
    import pandas as pd

    if isinstance(out, pd.Series):
        return out.to_numpy()
    if isinstance(out, (list, tuple)):
        return np.asarray(out)
    return out


def load_model(
    model_uri: str | os.PathLike[str],
    *,
    strict_env: bool = False,
    extra_columns: ExtraColumns = "drop",
    store: MetadataStore | None = None,
    blobs: BlobStore | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    manifest_digest: str | None = None,
) -> Model:
    """Load a model from a folder or a ``runs:/RUN_ID/PATH`` URI, verifying every file first.

    ``models:/NAME/VERSION`` and ``models:/NAME@ALIAS`` URIs are loaded by ``slipway.load_model``
    or ``slipway.registry.Registry.load``, which resolve them through the registry.

    Args:
        model_uri: a model folder, ``file:///…``, or ``runs:/RUN_ID/PATH`` (which needs the three
            arguments below; ``slipway.load_model`` passes the configured ones).
        strict_env: raise EnvironmentMismatch instead of warning when the installed packages differ
            from the recorded ones.
        extra_columns: ``"drop"`` input columns the signature does not name, or ``"reject"`` them.
        store: the metadata store that lists the run's artifacts.
        blobs: the blob store that holds their bytes.
        cache_dir: where downloaded models are kept, one folder per distinct model.
        manifest_digest: the SHA-256 the manifest must have (a registry or run records it).

    .. versionadded:: 0.1
    """
    ref = parse_model_uri(model_uri if isinstance(model_uri, str) else str(Path(model_uri)))
    if isinstance(ref, RegistryModelUri):
        raise InvalidInput(
            f"{ref}: a models:/ URI is resolved by the model registry; use slipway.load_model() "
            "(or slipway.registry.Registry.load()), which resolve it and pass the version's files here"
        )
    if isinstance(ref, RunModelUri):
        if store is None or blobs is None or cache_dir is None:
            raise InvalidInput(
                f"{ref}: a runs:/ URI needs the tracking stores; use slipway.load_model(), "
                "or pass store=, blobs= and cache_dir="
            )
        from slipway.models._fetch import fetch_run_model

        folder, manifest_digest = fetch_run_model(
            store, blobs, run_id=ref.run_id, path=ref.path, cache_dir=Path(cache_dir)
        )
    else:
        assert isinstance(ref, LocalModelUri)
        folder = Path(ref.path)
    return load_folder(
        folder, strict_env=strict_env, extra_columns=extra_columns, manifest_digest=manifest_digest
    )


def load_folder(
    folder: Path,
    *,
    strict_env: bool = False,
    extra_columns: ExtraColumns = "drop",
    manifest_digest: str | None = None,
) -> Model:
    if not folder.is_dir():
        raise NotFound(f"model folder {str(folder)!r} does not exist")
    try:
        data = (folder / MANIFEST_FILE).read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{folder}: not a slipway model folder (no {MANIFEST_FILE})") from None
    if manifest_digest is not None and hashlib.sha256(data).hexdigest() != manifest_digest:
        raise IntegrityViolation(
            f"{folder / MANIFEST_FILE}: its digest differs from the one recorded for this model "
            f"(sha256:{manifest_digest[:16]}…); it was changed after logging, so it was not loaded"
        )
    manifest = parse_manifest(data, where=str(folder / MANIFEST_FILE))
    verify_folder(folder, manifest, skip=MANIFEST_FILE)
    mismatches = check_environment(manifest.requirements, python_version=manifest.python_version)
    if mismatches:
        message = (
            f"model {folder} was saved in another environment: "
            + "; ".join(str(m) for m in mismatches)
            + ". Predictions may differ or fail; install the recorded versions from its requirements.txt"
        )
        if strict_env:
            raise EnvironmentMismatch(message)
        warnings.warn(message, EnvironmentMismatchWarning, stacklevel=3)
    flavor = get_flavor(manifest.flavor)
    with _code_on_path(folder, manifest.code):
        raw = flavor.load(folder, manifest.options)
    return Model(
        path=folder,
        manifest=manifest,
        raw=raw,
        methods=flavor.methods(raw, manifest.options),
        extra_columns=extra_columns,
        environment=mismatches,
        finite_check=_finite_check(flavor, raw),
    )


def _finite_check(flavor: object, raw: object) -> Callable[[], None] | None:
    hook = getattr(flavor, "finite_check", None)  # optional: third-party flavors may not have it
    if hook is None:
        return None
    try:
        found: Callable[[], None] | None = hook(raw)
    except Exception as e:  # it only saves time: a model whose hook fails keeps its own checks
        logging.getLogger("slipway.models").warning(
            "flavor %s: finite_check failed (%s: %s); the model checks its input itself",
            getattr(flavor, "name", flavor),
            type(e).__name__,
            e,
        )
        return None
    return found


# sys.path, sys.modules and sys.dont_write_bytecode are process-wide: one load changes them at a time.
_IMPORT_LOCK = threading.RLock()


@contextlib.contextmanager
def _code_on_path(folder: Path, code: str | None) -> Iterator[None]:
    """Put the model's code folder first on sys.path (it stays: later imports may need it).

    A module of the same name as one in ``code/`` that is already imported from another file
    (another model's code, or the user's copy) is evicted from ``sys.modules`` with its submodules,
    so the code whose digests were just checked is the code that runs. Bytecode writing is off
    while loading: a ``__pycache__`` in the folder would fail the next digest check.
    """
    with _IMPORT_LOCK:
        if code is not None:
            root = (folder / code).resolve()
            entry = str(root)
            while entry in sys.path:
                sys.path.remove(entry)
            sys.path.insert(0, entry)  # first, even if an earlier load of another model came after
            _evict_foreign(root)
            importlib.invalidate_caches()
        before = sys.dont_write_bytecode
        sys.dont_write_bytecode = True
        try:
            yield
        finally:
            sys.dont_write_bytecode = before


def _top_level_names(root: Path) -> set[str]:
    """The modules and packages ``root`` (a model's code/) provides at its top level."""
    names: set[str] = set()
    for child in root.iterdir():
        if child.is_dir() and child.name.isidentifier():
            names.add(child.name)
        elif child.suffix == ".py" and child.stem.isidentifier():
            names.add(child.stem)
    return names


def _evict_foreign(root: Path) -> None:
    """Drop from sys.modules each of root's module names imported from somewhere other than root."""
    for name in _top_level_names(root):
        module = sys.modules.get(name)
        if module is None:
            continue
        file = getattr(module, "__file__", None)
        places = [file] if file else list(getattr(module, "__path__", None) or [])
        if places and all(Path(p).resolve().is_relative_to(root) for p in places):
            continue  # already this model's own code
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
