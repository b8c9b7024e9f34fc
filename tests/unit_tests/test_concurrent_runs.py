"""How many runs `tpo eval` and `tpo serve` admit at once: as many as the policy serves well."""

from __future__ import annotations

from langchain_tpo.concurrent_runs import runs_at_once
from langchain_tpo.testing import ScriptedChatModel


class OneBatchAtATime(ScriptedChatModel):
    """A scripted policy that, like in-process transformers, serves few runs well."""

    def runs_at_once(self) -> int:
        return 2


def test_a_policy_that_says_nothing_gets_the_usual_number() -> None:
    assert runs_at_once(ScriptedChatModel(), usual=32) == (32, None)


def test_a_policy_that_serves_few_runs_well_gets_that_many_and_a_reason() -> None:
    runs, why = runs_at_once(OneBatchAtATime(), usual=32)
    assert runs == 2
    assert why is not None and "OneBatchAtATime" in why and "one by one" in why


def test_a_bound_policy_is_read_through_its_binding() -> None:
    assert runs_at_once(OneBatchAtATime().bind(stop=["x"]), usual=8)[0] == 2


def test_a_hint_below_one_is_ignored() -> None:
    class Broken(ScriptedChatModel):
        def runs_at_once(self) -> int:
            return 0

    assert runs_at_once(Broken(), usual=8) == (8, None)
