"""CatalogCollector in virtual time (Annex N multi-message catalogs, pitfalls §10 item 6)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.sipserver.gb import (
    CatalogCollector,
    CatalogItem,
    CatalogResponse,
    CmdType,
    CollectionState,
    CollectorSettings,
    QueryKey,
    build_catalog_responses,
    parse_manscdp,
)

DEVICE = "34020000001180000001"
KEY = QueryKey(DEVICE, CmdType.CATALOG, 248)


def _items(count: int) -> list[CatalogItem]:
    return [CatalogItem(f"3402000000131{n:07d}", name=f"通道{n}") for n in range(count)]


def _wire_messages(
    items: list[CatalogItem], per_message: int, sum_num: int | None = None
) -> list[CatalogResponse]:
    """The messages a device would send, through the real builder and parser."""
    bodies = build_catalog_responses(items, KEY.sn, DEVICE, sum_num, per_message)
    messages = [parse_manscdp(body) for body in bodies]
    assert all(isinstance(message, CatalogResponse) for message in messages)
    return [message for message in messages if isinstance(message, CatalogResponse)]


def test_thousand_items_twenty_per_message_complete_with_the_last_message() -> None:
    items = _items(1000)
    messages = _wire_messages(items, 20)
    collector = CatalogCollector()
    collector.start(KEY, now=0.0)

    progress = [collector.add(message, now=0.1 * n) for n, message in enumerate(messages)]

    assert len(messages) == 50
    assert [p.state for p in progress[:-1]] == [CollectionState.RUNNING] * 49
    assert (progress[-2].received, progress[-2].expected) == (980, 1000)
    final = progress[-1]
    assert final.state is CollectionState.COMPLETE
    assert final.result is not None
    assert final.result.is_complete and final.result.expected == 1000
    assert list(final.result.items) == items
    assert collector.running_count == 0


def test_lost_message_ends_partial_after_the_inactivity_timeout() -> None:
    items = _items(100)
    messages = _wire_messages(items, 20)
    del messages[2]
    collector = CatalogCollector(CollectorSettings(inactivity_timeout=10.0))
    collector.start(KEY, now=0.0)
    for n, message in enumerate(messages):
        collector.add(message, now=float(n))

    assert collector.next_deadline() == 13.0
    assert collector.tick(now=12.9) == []
    (result,) = collector.tick(now=13.0)

    assert not result.is_complete
    assert (len(result.items), result.expected) == (80, 100)
    assert list(result.items) == items[:40] + items[60:]
    progress = collector.progress(KEY)
    assert progress is not None
    assert (progress.state, progress.received) == (CollectionState.PARTIAL, 80)


def test_no_answer_at_all_ends_partial_and_empty() -> None:
    collector = CatalogCollector(CollectorSettings(inactivity_timeout=5.0))
    collector.start(KEY, now=100.0)

    (result,) = collector.tick(now=105.0)

    assert (result.items, result.expected, result.is_complete) == ((), None, False)


def test_duplicates_and_reordering_are_fine() -> None:
    items = _items(60)
    messages = _wire_messages(items, 20)
    collector = CatalogCollector()
    collector.start(KEY, now=0.0)

    states = [
        collector.add(message, now=1.0).state
        for message in (messages[2], messages[2], messages[0], messages[2], messages[1])
    ]

    assert states[:-1] == [CollectionState.RUNNING] * 4
    progress = collector.progress(KEY)
    assert progress is not None and progress.state is CollectionState.COMPLETE
    assert progress.received == 60


def test_late_retransmit_after_completion_does_not_start_a_second_collection() -> None:
    messages = _wire_messages(_items(20), 20)
    collector = CatalogCollector(CollectorSettings(inactivity_timeout=10.0))
    first = collector.add(messages[0], now=0.0)

    late = collector.add(messages[0], now=5.0)

    assert first.result is not None
    assert (late.state, late.result) == (CollectionState.COMPLETE, None)
    assert collector.running_count == 0
    assert collector.tick(now=10.0) == []
    assert collector.progress(KEY) is None
    assert collector.next_deadline() is None


def test_sum_num_zero_finishes_at_once() -> None:
    (message,) = _wire_messages([], 20)
    collector = CatalogCollector()
    collector.start(KEY, now=0.0)

    progress = collector.add(message, now=0.5)

    assert progress.state is CollectionState.COMPLETE
    assert progress.result is not None
    assert (progress.result.items, progress.result.is_complete) == ((), True)


def test_missing_num_attribute_does_not_matter() -> None:
    body = (
        "<Response><CmdType>Catalog</CmdType><SN>248</SN>"
        f"<DeviceID>{DEVICE}</DeviceID><SumNum>2</SumNum><DeviceList>"
        "<Item><DeviceID>34020000001310000001</DeviceID></Item>"
        "<Item><DeviceID>34020000001310000002</DeviceID></Item>"
        "</DeviceList></Response>"
    ).encode()
    message = parse_manscdp(body)
    assert isinstance(message, CatalogResponse) and message.declared_num is None
    collector = CatalogCollector()

    progress = collector.add(message, now=0.0)

    assert progress.state is CollectionState.COMPLETE
    assert progress.received == 2


def test_largest_sum_num_seen_is_the_target() -> None:
    items = _items(30)
    low, high = _wire_messages(items[:10], 10, sum_num=10), _wire_messages(items[10:], 20, 30)
    collector = CatalogCollector()
    collector.start(KEY, now=0.0)

    after_high = collector.add(high[0], now=0.0)
    after_low = collector.add(low[0], now=0.1)

    assert (after_high.state, after_high.expected) == (CollectionState.RUNNING, 30)
    assert (after_low.state, after_low.expected, after_low.received) == (
        CollectionState.COMPLETE,
        30,
        30,
    )


def test_unknown_sum_num_waits_for_inactivity() -> None:
    message = CatalogResponse(DEVICE, KEY.sn, None, tuple(_items(3)))
    collector = CatalogCollector(CollectorSettings(inactivity_timeout=2.0))

    assert collector.add(message, now=0.0).state is CollectionState.RUNNING
    (result,) = collector.tick(now=2.0)

    assert (len(result.items), result.expected, result.is_complete) == (3, None, False)


def test_unsolicited_answer_is_collected_without_start() -> None:
    collector = CatalogCollector()

    progress = collector.add(_wire_messages(_items(5), 5)[0], now=0.0)

    assert progress.result is not None and len(progress.result.items) == 5
    assert progress.result.key == KEY


def test_item_bound_ends_the_collection_partial() -> None:
    collector = CatalogCollector(CollectorSettings(max_items=25))
    messages = _wire_messages(_items(60), 20)

    states = [collector.add(message, now=0.0) for message in messages[:2]]

    assert states[0].state is CollectionState.RUNNING
    final = states[1]
    assert final.state is CollectionState.PARTIAL
    assert final.result is not None and len(final.result.items) == 25


def test_collection_bound_rejects_further_collections() -> None:
    collector = CatalogCollector(CollectorSettings(max_collections=2))
    for sn in (1, 2):
        collector.start(QueryKey(DEVICE, CmdType.CATALOG, sn), now=0.0)

    rejected = collector.add(CatalogResponse(DEVICE, 3, 5, tuple(_items(1))), now=0.0)

    assert rejected.state is CollectionState.REJECTED
    assert collector.running_count == 2
    assert collector.progress(QueryKey(DEVICE, CmdType.CATALOG, 3)) is None


def test_restarting_a_running_collection_keeps_its_items() -> None:
    collector = CatalogCollector()
    collector.start(KEY, now=0.0)
    collector.add(_wire_messages(_items(40), 20)[0], now=1.0)

    again = collector.start(KEY, now=2.0)

    assert (again.state, again.received) == (CollectionState.RUNNING, 20)


def test_next_deadline_follows_the_least_recently_active_collection() -> None:
    collector = CatalogCollector(CollectorSettings(inactivity_timeout=10.0))
    assert collector.next_deadline() is None
    collector.start(KEY, now=0.0)
    collector.start(QueryKey(DEVICE, CmdType.CATALOG, 249), now=3.0)
    assert collector.next_deadline() == 10.0

    collector.add(_wire_messages(_items(40), 20)[0], now=5.0)

    assert collector.next_deadline() == 13.0


@settings(max_examples=50, deadline=None)
@given(st.permutations(range(10)), st.lists(st.integers(0, 9), max_size=10))
def test_any_order_with_any_duplicates_completes_with_every_item(
    order: list[int], duplicates: list[int]
) -> None:
    items = _items(50)
    messages = _wire_messages(items, 5)
    collector = CatalogCollector()
    results = [collector.add(messages[index], now=0.0).result for index in [*duplicates, *order]]

    finished = [result for result in results if result is not None]
    assert len(finished) == 1
    assert finished[0].is_complete
    assert sorted(item.device_id for item in finished[0].items) == [i.device_id for i in items]


def test_memory_of_finished_collections_is_bounded() -> None:
    collector = CatalogCollector(CollectorSettings(max_collections=2))
    for sn in (1, 2, 3):
        collector.add(CatalogResponse(DEVICE, sn, 0, ()), now=0.0)

    remembered = [collector.progress(QueryKey(DEVICE, CmdType.CATALOG, sn)) for sn in (1, 2, 3)]

    assert remembered[0] is None
    assert [p.state for p in remembered[1:] if p] == [CollectionState.COMPLETE] * 2


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["start", "add", "tick"]),
            st.integers(min_value=0, max_value=5),  # which query
            st.floats(min_value=0.0, max_value=4.0),  # time passing before the step
        ),
        max_size=60,
    )
)
def test_deadlines_and_timeouts_match_a_full_scan(steps: list[tuple[str, int, float]]) -> None:
    # The collector keeps its entries in deadline order instead of scanning them all: it
    # must still say what a scan of every collection would say.
    timeout = 3.0
    collector = CatalogCollector(CollectorSettings(inactivity_timeout=timeout))
    activity: dict[QueryKey, float] = {}  # running: last message
    forget: dict[QueryKey, float] = {}  # finished: when it is forgotten
    now = 0.0
    for action, which, elapsed in steps:
        now += elapsed
        key = QueryKey(DEVICE, CmdType.CATALOG, which)
        if action == "start":
            collector.start(key, now)
            if key not in activity:
                forget.pop(key, None)
                activity[key] = now
        elif action == "add":
            # One item of an announced 1,000: the collection stays running.
            message = CatalogResponse(DEVICE, which, 1000, (_items(1)[0],))
            progress = collector.add(message, now)
            if key in activity or key not in forget:
                activity[key] = now
                assert progress.state is CollectionState.RUNNING
            else:  # finished a moment ago: a late copy, ignored
                assert progress.state is CollectionState.PARTIAL
        else:
            ended = {result.key for result in collector.tick(now)}
            expected = {k for k, last in activity.items() if last + timeout <= now}
            assert ended == expected
            for k in expected:
                del activity[k]
                forget[k] = now + timeout
            forget = {k: at for k, at in forget.items() if at > now}
        deadlines = [last + timeout for last in activity.values()] + list(forget.values())
        assert collector.next_deadline() == min(deadlines, default=None)
