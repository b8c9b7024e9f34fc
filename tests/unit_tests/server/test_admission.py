"""Admission control: slots, the bounded queue, Retry-After, clients that leave."""

from __future__ import annotations

import asyncio

import pytest

from langchain_tpo.server.admission import Admission, AdmissionFull


async def test_slots_then_queue_then_full() -> None:
    admission = Admission(max_concurrency=2, max_queue=1)
    first, second = admission.enter(), admission.enter()
    assert not first.waits and not second.waits and admission.running == 2
    third = admission.enter()
    assert third.waits and admission.queued == 1 and admission.in_flight == 3
    with pytest.raises(AdmissionFull) as full:
        admission.enter()
    assert full.value.retry_after_s >= 1
    waiting = asyncio.ensure_future(third.admitted())
    await asyncio.sleep(0)
    assert not waiting.done()
    admission.release()  # the first run ends: its slot goes to the third request
    await asyncio.wait_for(waiting, 1)
    assert admission.running == 2 and admission.queued == 0


async def test_queue_is_first_come_first_served() -> None:
    admission = Admission(max_concurrency=1, max_queue=3)
    admission.enter()
    tickets = [admission.enter() for _ in range(3)]
    order: list[int] = []

    async def wait(i: int) -> None:
        await tickets[i].admitted()
        order.append(i)

    tasks = [asyncio.ensure_future(wait(i)) for i in (2, 0, 1)]
    for _ in range(3):
        await asyncio.sleep(0)
        admission.release()
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]


async def test_a_waiter_that_leaves_frees_its_place_and_passes_on_a_slot() -> None:
    admission = Admission(max_concurrency=1, max_queue=2)
    admission.enter()
    leaver, stayer = admission.enter(), admission.enter()
    leaving = asyncio.ensure_future(leaver.admitted())
    staying = asyncio.ensure_future(stayer.admitted())
    await asyncio.sleep(0)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert admission.queued == 1
    admission.release()
    await asyncio.wait_for(staying, 1)
    assert admission.running == 1 and admission.queued == 0


async def test_a_slot_granted_as_the_client_leaves_is_not_lost() -> None:
    admission = Admission(max_concurrency=1, max_queue=2)
    admission.enter()
    leaver, stayer = admission.enter(), admission.enter()
    leaving = asyncio.ensure_future(leaver.admitted())
    staying = asyncio.ensure_future(stayer.admitted())
    await asyncio.sleep(0)
    admission.release()  # hands the slot to the leaver...
    leaving.cancel()  # ...which leaves before it runs
    with pytest.raises(asyncio.CancelledError):
        await leaving
    await asyncio.wait_for(staying, 1)
    assert admission.running == 1


async def test_retry_after_grows_with_the_queue_and_run_length() -> None:
    admission = Admission(max_concurrency=2, max_queue=10)
    for seconds in (4.0, 6.0, 5.0):
        admission.record(seconds)
    assert admission.retry_after_s() == 3  # a typical run of 5 s, one turn of two slots
    for _ in range(5):
        admission.enter()  # two run, three wait
    assert admission.retry_after_s() == 10
