"""A registered version's files, downloaded once into a local cache keyed by their digests.

The helper is :func:`slipway.models.cached_folder`, the one ``runs:/`` loads use too, so a version
registered from a run shares the cache folder of that run's model. It refuses unsafe paths in the
listing and repairs a damaged cached copy; every load still checks the manifest against the
version's recorded digest and every file against the manifest.
"""

from __future__ import annotations

from slipway.models import cached_folder

__all__ = ["cached_folder"]
