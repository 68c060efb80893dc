"""The pure deadline heap behind the transaction layer's single timer."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.sipserver.sip.deadline_queue import DeadlineQueue


def test_pops_due_items_earliest_first_and_leaves_the_rest() -> None:
    queue: DeadlineQueue[str] = DeadlineQueue()
    queue.schedule("c", 3.0)
    queue.schedule("a", 1.0)
    queue.schedule("b", 2.0)
    assert queue.next_deadline() == 1.0
    assert queue.pop_due(2.0) == ["a", "b"]
    assert queue.next_deadline() == 3.0
    assert len(queue) == 1 and "c" in queue
    assert queue.pop_due(2.5) == []


def test_rescheduling_replaces_the_old_deadline() -> None:
    queue: DeadlineQueue[str] = DeadlineQueue()
    queue.schedule("tx", 1.0)
    queue.schedule("tx", 5.0)
    assert queue.next_deadline() == 5.0
    assert queue.pop_due(4.0) == []
    queue.schedule("tx", 0.5)
    assert queue.deadline_of("tx") == 0.5
    assert queue.pop_due(4.0) == ["tx"]
    assert queue.pop_due(10.0) == []  # the stale 5.0 entry is not an item any more


def test_cancel_and_none_forget_the_item() -> None:
    queue: DeadlineQueue[str] = DeadlineQueue()
    queue.schedule("a", 1.0)
    queue.schedule("b", 2.0)
    queue.cancel("a")
    queue.schedule("b", None)
    queue.cancel("never scheduled")
    assert queue.next_deadline() is None
    assert queue.pop_due(100.0) == []
    assert len(queue) == 0


def test_stale_entries_are_compacted_so_memory_stays_bounded() -> None:
    queue: DeadlineQueue[int] = DeadlineQueue()
    for step in range(10_000):
        queue.schedule(step % 10, 1000.0 - step * 0.01)
    assert len(queue) == 10
    assert queue.entry_count <= 2 * len(queue) + 64 + 1
    for item in range(10):
        queue.cancel(item)
    assert queue.entry_count <= 64 + 1


operations = st.lists(
    st.tuples(
        st.sampled_from(["schedule", "cancel", "pop"]),
        st.integers(min_value=0, max_value=7),
        st.integers(min_value=0, max_value=50),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(operations)
def test_behaves_like_a_dict_of_deadlines(ops: list[tuple[str, int, int]]) -> None:
    queue: DeadlineQueue[int] = DeadlineQueue()
    model: dict[int, float] = {}
    for op, item, value in ops:
        if op == "schedule":
            queue.schedule(item, float(value))
            model[item] = float(value)
        elif op == "cancel":
            queue.cancel(item)
            model.pop(item, None)
        else:
            due = sorted((d, i) for i, d in model.items() if d <= value)
            popped = queue.pop_due(float(value))
            assert sorted(popped) == sorted(i for _, i in due)
            assert [model[i] for i in popped] == sorted(model[i] for i in popped)
            for i in popped:
                del model[i]
        assert queue.next_deadline() == (min(model.values()) if model else None)
        assert len(queue) == len(model)
