"""``IdleSlots``: one idle slot of a worker waits on Redis; the others wait on it."""

from __future__ import annotations

import threading
import time

from c3render.queue.idle_slots import IdleSlots


def test_one_slot_at_a_time_waits_on_redis() -> None:
    idle_slots = IdleSlots()
    assert idle_slots.become_waiter()
    assert not idle_slots.become_waiter()  # a second idle slot waits in memory instead
    idle_slots.done_waiting()
    assert idle_slots.become_waiter()


def test_a_wake_up_that_came_while_the_slot_looked_is_not_missed() -> None:
    idle_slots = IdleSlots()
    since = idle_slots.generation()
    idle_slots.pass_on()  # another slot found a job between this one's look and its wait
    started = time.monotonic()
    idle_slots.wait(since, 30)
    assert time.monotonic() - started < 5  # returned at once, not after the timeout


def test_a_found_job_wakes_a_waiting_slot() -> None:
    idle_slots = IdleSlots()
    woken = threading.Event()

    def idle_slot() -> None:
        idle_slots.wait(idle_slots.generation(), 30)
        woken.set()

    thread = threading.Thread(target=idle_slot, daemon=True)
    thread.start()
    time.sleep(0.1)
    assert not woken.is_set()
    idle_slots.pass_on()
    assert woken.wait(5)
    thread.join(5)


def test_a_failed_redis_wait_hands_the_role_on_at_once() -> None:
    idle_slots = IdleSlots()
    assert idle_slots.become_waiter()
    since = idle_slots.generation()
    idle_slots.done_waiting(failed=True)
    started = time.monotonic()
    idle_slots.wait(since, 30)
    assert time.monotonic() - started < 5
    assert idle_slots.become_waiter()


def test_a_wait_with_no_wake_up_ends_at_its_timeout() -> None:
    idle_slots = IdleSlots()
    started = time.monotonic()
    idle_slots.wait(idle_slots.generation(), 0.05)
    assert time.monotonic() - started >= 0.04
