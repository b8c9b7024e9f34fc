"""Which run came first: an admission number per TPO run, carried by its model requests.

A backend that cannot decode every request at once (transformers: one batched `generate`
call at a time) serves the requests of earlier runs first, so that with many runs in flight
results arrive one after another instead of all at the end. `prepare` numbers each run; every
policy request of the run carries the number in its run metadata (`tpo_run_order`); a request
without one is numbered when it arrives, as a run of its own.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from typing import Any

METADATA_KEY = "tpo_run_order"
"""The run-metadata key of a request's admission number."""

_counter = itertools.count()
_lock = threading.Lock()


def next_run_order() -> int:
    """A new admission number, larger than every earlier one in this process."""
    with _lock:
        return next(_counter)


def run_order_of(metadata: Mapping[str, Any] | None) -> int:
    """The admission number in a request's run metadata, or a new one."""
    value = (metadata or {}).get(METADATA_KEY)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return next_run_order()
