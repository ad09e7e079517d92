"""The deadline index: schedules replace each other, None unschedules, keys come out once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.sla.deadlines import DeadlineIndex


def index_of(*schedules: tuple[str, int | None]) -> DeadlineIndex:
    index = DeadlineIndex()
    for key, due in schedules:
        index.schedule(key, due)
    return index


@pytest.mark.parametrize(
    ("schedules", "now", "popped", "left", "earliest_after"),
    [
        # Earliest first; ties by key; later ones stay.
        ([("b", 20), ("a", 10), ("c", 20), ("d", 30)], 20, ["a", "b", "c"], 1, 30),
        # Due exactly now counts.
        ([("a", 10)], 10, ["a"], 0, None),
        ([("a", 10)], 9, [], 1, 10),
        # A reschedule replaces the earlier time, later or sooner.
        ([("a", 10), ("a", 50)], 20, [], 1, 50),
        ([("a", 50), ("a", 10)], 20, ["a"], 0, None),
        # Back to a time it had before: still one key, once.
        ([("a", 10), ("a", 50), ("a", 10)], 60, ["a"], 0, None),
        # The same time twice is one schedule.
        ([("a", 10), ("a", 10)], 60, ["a"], 0, None),
        # None unschedules; unscheduling an unknown key is harmless.
        ([("a", 10), ("b", 15), ("a", None), ("zz", None)], 60, ["b"], 0, None),
        ([], 60, [], 0, None),
    ],
)
def test_pop_due(
    schedules: list[tuple[str, int | None]],
    now: int,
    popped: list[str],
    left: int,
    earliest_after: int | None,
):
    index = index_of(*schedules)
    assert index.pop_due(now) == popped
    assert len(index) == left
    assert index.earliest() == earliest_after
    assert index.pop_due(now) == []  # each key once


def test_earliest_skips_replaced_and_unscheduled_times():
    index = index_of(("a", 10), ("b", 20))
    assert index.earliest() == 10
    index.schedule("a", 30)
    assert index.earliest() == 20
    index.schedule("b", None)
    assert index.earliest() == 30
    assert len(index) == 1


def test_a_popped_key_can_be_scheduled_again():
    index = index_of(("a", 10))
    assert index.pop_due(10) == ["a"]
    index.schedule("a", 40)
    assert index.pop_due(39) == []
    assert index.pop_due(40) == ["a"]


def test_many_reschedules_keep_the_heap_bounded():
    index = DeadlineIndex()
    for step in range(10_000):
        index.schedule(f"t{step % 10}", step)
    assert len(index) == 10
    assert len(index._heap) <= 64  # stale entries are compacted away
    assert index.pop_due(10**9) == [f"t{n}" for n in range(10)]


operations = st.lists(
    st.tuples(
        st.sampled_from(["schedule", "pop"]),
        st.sampled_from(["a", "b", "c", "d"]),
        st.one_of(st.none(), st.integers(0, 100)),
    ),
    max_size=200,
)


@settings(max_examples=200)
@given(operations)
def test_behaves_like_a_dict_of_due_times(ops: list[tuple[str, str, int | None]]):
    index, model = DeadlineIndex(), {}
    for op, key, value in ops:
        if op == "schedule":
            index.schedule(key, value)
            if value is None:
                model.pop(key, None)
            else:
                model[key] = value
        else:
            now = value if value is not None else 50
            due = sorted((t, k) for k, t in model.items() if t <= now)
            assert index.pop_due(now) == [k for _, k in due]
            for _, k in due:
                del model[k]
        assert len(index) == len(model)
        assert index.earliest() == min(model.values(), default=None)
