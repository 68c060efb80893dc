"""Prometheus metrics of one platform, read from the parts' own counters at scrape time.

The parts keep plain counters (frozen `...Stats` dataclasses: the SIP endpoint, device
access, the media manager, the loop-lag monitor); nothing on a hot path touches a metrics
library. `PlatformMetrics.render()` builds the exposition text from those counters when
`GET /metrics` asks, on a registry of its own (no process-global registry), together with
the standard process metrics (CPU seconds, resident memory, open descriptors).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from farmwatch.media.cluster import MediaCluster
from farmwatch.media.manager import IngestTotals
from farmwatch.media.node import NodeStats
from farmwatch.platform.observability.loop_lag import LAG_BUCKETS, LoopLagMonitor
from farmwatch.platform.recordings.platform_recording import PlatformRecording, RecordingDiskUse
from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.endpoint import SipEndpoint
from farmwatch.sipserver.front.fronts import SipFronts

__all__ = ["CONTENT_TYPE", "MetricSources", "PlatformMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
PREFIX = "farmwatch"


@dataclass(frozen=True, slots=True)
class MetricSources:
    """The components whose counters are exported."""

    sip: SipEndpoint
    access: DeviceAccess
    media: MediaCluster
    loop_lag: LoopLagMonitor
    recording: PlatformRecording | None = None
    fronts: SipFronts | None = None


class PlatformMetrics:
    """The `/metrics` exposition of one platform process."""

    def __init__(self, sources: MetricSources) -> None:
        self._media = sources.media
        self._recording = sources.recording
        self._collector = _PartsCollector(sources)
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self._collector)
        ProcessCollector(registry=self._registry)

    async def refresh(self) -> None:
        """Bring counters read from other processes (media workers) and from storage up
        to this instant."""
        await self._media.refresh_stats()
        if self._recording is not None:
            self._collector.disk = await self._recording.disk_use()

    def render(self) -> bytes:
        return generate_latest(self._registry)


class _PartsCollector(Collector):
    def __init__(self, sources: MetricSources) -> None:
        self._sources = sources
        self.disk: RecordingDiskUse | None = None
        """Read by `PlatformMetrics.refresh` (a database query: not from `collect`)."""

    def collect(self) -> Iterable[Metric]:
        yield from self._loop_lag()
        yield from self._sip()
        yield from self._sip_transactions()
        yield from self._sip_fronts()
        yield from self._media()
        yield from self._recording_disk()

    def _sip_transactions(self) -> Iterator[Metric]:
        sip, registrar = self._sources.sip, self._sources.access.registrar
        layer = sip.transaction_stats
        yield _by_label(
            CounterMetricFamily(
                f"{PREFIX}_sip_transactions",
                "SIP transactions started, by side (server: requests received, the express "
                "path's REGISTERs and keepalives included; client: requests sent).",
                labels=["side"],
            ),
            server=layer.server_started + sip.express_handled,
            client=layer.client_started,
        )
        yield _by_label(
            CounterMetricFamily(
                f"{PREFIX}_sip_retransmissions",
                "SIP retransmissions: requests received again (absorbed, the answer re-sent) "
                "and requests or responses sent again by a timer.",
                labels=["direction"],
            ),
            received=layer.retransmissions_received + sip.express_retransmissions,
            sent=layer.retransmissions_sent,
        )
        yield _by_label(
            CounterMetricFamily(
                f"{PREFIX}_sip_registers",
                "REGISTERs answered, by answer (200 accepted, 401 challenged, 503 shed).",
                labels=["answer"],
            ),
            accepted=registrar.accepted,
            challenged=registrar.challenged,
            shed=registrar.shed,
        )

    def _sip_fronts(self) -> Iterator[Metric]:
        fronts = self._sources.fronts
        if fronts is None:
            return
        totals = fronts.totals
        counts = totals.counts
        yield GaugeMetricFamily(
            f"{PREFIX}_sip_fronts_running", "SIP front processes running.", value=totals.running
        )
        yield CounterMetricFamily(
            f"{PREFIX}_sip_front_restarts",
            "SIP fronts started again after they exited.",
            value=totals.restarts,
        )
        yield _by_label(
            CounterMetricFamily(
                f"{PREFIX}_sip_front_requests",
                "Requests the SIP fronts answered (REGISTERs by answer, keepalives) and the "
                "datagrams they passed to the platform, as of their last report (each second).",
                labels=["kind"],
            ),
            accepted=counts.registered,
            challenged=counts.challenged,
            shed=counts.shed,
            keepalive=counts.keepalives,
            forwarded=counts.forwarded,
        )

    def _recording_disk(self) -> Iterator[Metric]:
        disk = self.disk
        if disk is None:
            return
        yield GaugeMetricFamily(
            f"{PREFIX}_recording_bytes",
            "Bytes of the platform's recorded segments.",
            value=disk.segment_bytes,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_storage_free_bytes",
            "Free bytes on the storage folder's file system.",
            value=disk.free_bytes,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_storage_bytes",
            "Size of the storage folder's file system.",
            value=disk.total_bytes,
        )

    def _loop_lag(self) -> Iterator[Metric]:
        stats = self._sources.loop_lag.stats
        cumulative, buckets = 0, []
        for bound, count in zip((*LAG_BUCKETS, float("inf")), stats.bucket_counts, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        yield HistogramMetricFamily(
            f"{PREFIX}_event_loop_lag_seconds",
            "How late the event loop ran a callback due at a known time.",
            buckets=buckets,
            sum_value=stats.lag_sum,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_event_loop_lag_max_seconds",
            "The largest event-loop lag seen since start.",
            value=stats.max_lag,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_event_loop_stalls",
            "Event-loop lag samples over the stall threshold.",
            value=stats.stalls,
        )

    def _sip(self) -> Iterator[Metric]:
        table = self._sources.access.table
        yield GaugeMetricFamily(
            f"{PREFIX}_devices_registered", "Devices with a live registration.", value=len(table)
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_devices_online", "Registered devices online now.", value=table.online_count
        )
        yield CounterMetricFamily(
            f"{PREFIX}_sip_udp_datagrams_dropped",
            "SIP datagrams dropped as unparsable or failing in their handler.",
            value=self._sources.sip.udp_dropped,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_sip_queue_delay_seconds",
            "How long the last probe waited in the SIP UDP receive queue.",
            value=self._sources.sip.queue_delay,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_sip_overloaded",
            "1 while new registrations are answered 503 (the receive queue is too long).",
            value=int(self._sources.sip.is_overloaded),
        )
        yield CounterMetricFamily(
            f"{PREFIX}_sip_registrations_shed",
            "REGISTERs answered 503 because the platform was overloaded.",
            value=self._sources.access.registrar.shed,
        )
        contacts = self._sources.access.first_contacts.stats
        yield _by_label(
            GaugeMetricFamily(
                f"{PREFIX}_first_contacts",
                "Devices waiting for or being asked their DeviceInfo, catalog and subscription.",
                labels=["state"],
            ),
            queued=contacts.queued,
            running=contacts.running,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_first_contacts_held",
            "Times new first contacts were held back while SIP requests waited to be read.",
            value=contacts.held,
        )
        yield from self._sip_access()
        yield from self._sip_tcp()

    def _sip_access(self) -> Iterator[Metric]:
        auth = self._sources.access.registrar.auth_stats
        yield CounterMetricFamily(
            f"{PREFIX}_sip_auth_failures",
            "Failed digest authentications (wrong password, not enrolled, wrong realm...).",
            value=auth.failures,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_sip_auth_refused",
            "REGISTERs refused unread because their device ID or host was blocked.",
            value=auth.refused,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_sip_auth_blocks", "Blocks of a device ID or host started.", value=auth.blocks
        )
        inbox = self._sources.access.inbox.stats
        yield _by_label(
            CounterMetricFamily(
                f"{PREFIX}_sip_messages_refused",
                "MESSAGE/NOTIFY refused before their body was read, by why.",
                labels=["reason"],
            ),
            unregistered=inbox.refused_unregistered,
            elsewhere=inbox.refused_elsewhere,
        )

    def _sip_tcp(self) -> Iterator[Metric]:
        tcp = self._sources.sip.tcp_stats
        yield _by_label(
            GaugeMetricFamily(
                f"{PREFIX}_sip_tcp_connections",
                "SIP TCP connections open now.",
                labels=["direction"],
            ),
            inbound=tcp.inbound,
            outbound=tcp.outbound,
        )
        yield _by_label(
            CounterMetricFamily(
                f"{PREFIX}_sip_tcp_refused",
                "SIP TCP connections refused, by the limit that refused them.",
                labels=["limit"],
            ),
            per_address=tcp.refused_per_address,
            total=tcp.refused_total_cap,
            outbound=tcp.refused_outbound,
        )
        yield _by_label(
            CounterMetricFamily(
                f"{PREFIX}_sip_tcp_closed",
                "SIP TCP connections the platform closed, by why.",
                labels=["reason"],
            ),
            message_timeout=tcp.message_timeouts,
            silent=tcp.silent_closed,
            ping_only=tcp.ping_only_closed,
            idle=tcp.idle_closed,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_sip_tcp_accept_errors",
            "accept() failures (descriptors exhausted and the like).",
            value=tcp.accept_errors,
        )

    def _media(self) -> Iterator[Metric]:
        nodes = self._sources.media.stats()
        ingest = IngestTotals()
        for node in nodes:
            ingest = ingest.plus(node.ingest)
        yield GaugeMetricFamily(
            f"{PREFIX}_media_streams",
            "Streams open (or opening) now.",
            value=sum(node.streams for node in nodes),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_media_ports_in_use",
            "RTP ports allocated now.",
            value=sum(node.ports_in_use for node in nodes),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_media_ports",
            "RTP ports in the configured range.",
            value=sum(node.ports_capacity for node in nodes),
        )
        per_node: tuple[tuple[str, str, Callable[[NodeStats], float]], ...] = (
            ("streams", "Streams on each media node.", lambda n: n.streams),
            ("outputs", "Viewers' outputs open on each media node.", lambda n: n.outputs),
            ("resident_bytes", "Resident memory of each media node.", lambda n: n.rss_bytes),
        )
        for name, documentation, read in per_node:
            family = GaugeMetricFamily(
                f"{PREFIX}_media_node_{name}", documentation, labels=["node", "pid"]
            )
            for node in nodes:
                family.add_metric([node.node, str(node.pid)], read(node))
            yield family
        cpu = CounterMetricFamily(
            f"{PREFIX}_media_node_cpu_seconds",
            "CPU time of each media node's process.",
            labels=["node", "pid"],
        )
        for node in nodes:
            cpu.add_metric([node.node, str(node.pid)], node.cpu_seconds)
        yield cpu
        described = (
            ("packets", "RTP packets accepted.", ingest.packets),
            ("bytes", "RTP bytes accepted.", ingest.bytes),
            ("malformed_packets", "Packets that were not RTP.", ingest.malformed),
            ("rejected_ssrc_packets", "Packets of an SSRC not locked on.", ingest.rejected_ssrc),
            (
                "rejected_source_packets",
                "Packets from a source the stream does not accept.",
                ingest.rejected_source,
            ),
            (
                "rejected_connections",
                "TCP media connections refused (from another host, or a second one).",
                ingest.rejected_connections,
            ),
            ("lost_packets", "RTP packets never received (sequence gaps).", ingest.lost),
            ("late_packets", "RTP packets that arrived after their gap was skipped.", ingest.late),
            ("duplicate_packets", "RTP packets received twice.", ingest.duplicates),
            ("frames", "Audio and video frames demultiplexed.", ingest.frames),
        )
        for name, documentation, value in described:
            yield CounterMetricFamily(f"{PREFIX}_media_ingest_{name}", documentation, value=value)


_Family = TypeVar("_Family", GaugeMetricFamily, CounterMetricFamily)


def _by_label(family: _Family, **values: float) -> _Family:
    """`family` (of one label) with a sample per keyword: label value → sample value."""
    for label, value in values.items():
        family.add_metric([label], value)
    return family
