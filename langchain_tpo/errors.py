"""The exceptions langchain-tpo raises on purpose, so callers can tell them apart."""

from __future__ import annotations


class ContextLengthError(ValueError):
    """A request does not fit in the model's context window.

    Raised before any generation, so no time is spent on a request that cannot be answered.
    Never retried: the same request would fail the same way.
    """


class TPOInputError(ValueError):
    """The input of a TPO run is malformed (empty query, context that is not messages, ...).

    Raised by the graph's first node, before any model is called; never retried.
    """
