"""What the benchmarks read from outside the platform: CPU, memory, kernel drops, metrics.

Every figure is read from the kernel or from the platform's `/metrics`, never from what the
load generator believes: CPU time of the platform's whole process tree (workers included)
from /proc, resident memory likewise, UDP datagrams the kernel dropped at the platform's own
sockets (the `drops` column of /proc/net/udp[6], per socket) and host-wide, and the
platform's ingest and event-loop counters from its Prometheus endpoint.
"""

from __future__ import annotations

import os
import statistics
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, ()))
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of the process tree, including children that already exited and were
    waited for (cutime/cstime of the living)."""
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15]) / CLOCK_TICKS
    return total


def rss_mb(pid: int) -> float:
    """Resident memory of one process, MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_rss_mb(pid: int) -> float:
    return sum(rss_mb(member) for member in process_tree(pid))


def host_udp_drops() -> int:
    """Host-wide UDP datagrams dropped on receive (RcvbufErrors of /proc/net/snmp)."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    names, values = [row for row in lines if row[0] == "Udp:"][:2]
    return int(values[names.index("RcvbufErrors")])


def socket_drops(ports: Iterable[int]) -> int:
    """Datagrams the kernel dropped at the UDP sockets bound to `ports` (all addresses)."""
    wanted = set(ports)
    total = 0
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            rows = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if port in wanted:
                total += int(fields[-1])
    return total


def _metrics_text(base_url: str, headers: Mapping[str, str] | None) -> str:
    """The platform's /metrics ("" from a platform too old to have it: figures read n/a),
    read with `headers` (`RunningServer.auth_headers`: /metrics needs a login)."""
    request = urllib.request.Request(f"{base_url}/metrics", headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return ""
        raise


def scrape(base_url: str, headers: Mapping[str, str] | None = None) -> dict[str, float]:
    """The platform's metrics: name → value (histogram buckets only at +Inf)."""
    text = _metrics_text(base_url, headers)
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            label = sample.labels.get("le")
            if sample.labels and label != "+Inf":
                continue
            values[sample.name] = sample.value
    return values


def lag_buckets(base_url: str, headers: Mapping[str, str] | None = None) -> dict[float, float]:
    """Cumulative event-loop lag histogram: upper bound → samples at or under it."""
    text = _metrics_text(base_url, headers)
    for family in text_string_to_metric_families(text):
        if family.name == "farmwatch_event_loop_lag_seconds":
            return {
                float(sample.labels["le"]): sample.value
                for sample in family.samples
                if sample.name.endswith("_bucket")
            }
    return {}


def worst_lag_between(before: dict[float, float], after: dict[float, float]) -> float:
    """The upper bound of the highest lag bucket that received samples between two scrapes."""
    worst = 0.0
    for bound in sorted(after):
        below = after[bound] - before.get(bound, 0.0)
        previous = [b for b in sorted(after) if b < bound]
        under = after[previous[-1]] - before.get(previous[-1], 0.0) if previous else 0.0
        if below > under:
            worst = bound
    return worst


def spread(values: list[float]) -> str:
    """`median (min-max)` of repeated measurements."""
    if not values:
        return "-"
    return f"{statistics.median(values):.3g} ({min(values):.3g}-{max(values):.3g})"
