"""The platform's side of its SIP fronts (`[sip] fronts`, see `front.py`): started, heard,
kept in step, started again.

Each front is `python -m farmwatch sip-front`, given its `FrontSpec` on standard input
(which stays open: a front exits when it closes, so it never outlives the platform) and
one end of a `SOCK_SEQPACKET` pair for the records of `wire.py`. What a front reports is
applied here as if this process had received it: a forwarded datagram goes to the
endpoint, a registration into the table of record, a keepalive to the inbox.

Which front holds which device is remembered here, so that a front is told to `Forget`
a device exactly when the table of record no longer has it registered through that
front: it went offline, unregistered, or registered again elsewhere. A front that exits
is started again after a growing pause; the devices it held reach the platform and the
other fronts meanwhile (the kernel spreads them), and are served there.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass, field

from farmwatch.child_process import start_child, stop_child
from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.device_passwords import DevicePasswords
from farmwatch.sipserver.endpoint import SipEndpoint
from farmwatch.sipserver.front.channel import Channel
from farmwatch.sipserver.front.spec import FrontSpec
from farmwatch.sipserver.front.wire import (
    Forget,
    Forwarded,
    FrontCounts,
    KeepaliveSeen,
    PasswordChanged,
    Record,
    Registered,
)
from farmwatch.sipserver.gb.registrations import (
    DeviceCameOnline,
    DeviceWentOffline,
    PresenceEvent,
    Registration,
    RegistrationRefreshed,
)
from farmwatch.sipserver.sip.address import Address, Transport

__all__ = ["FrontTotals", "SipFronts"]

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
RESTART_MIN, RESTART_MAX = 1.0, 30.0
_NO_COUNTS = FrontCounts(0, 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class FrontTotals:
    """The fronts running, their restarts, and what all of them answered so far (the sum
    of their last reports, those of fronts that exited included)."""

    running: int
    restarts: int
    counts: FrontCounts


@dataclass(slots=True)
class _Front:
    index: int
    process: asyncio.subprocess.Process
    counts: FrontCounts = _NO_COUNTS
    channel: Channel = field(init=False)


class SipFronts:
    def __init__(
        self,
        count: int,
        endpoint: SipEndpoint,
        access: DeviceAccess,
        passwords: DevicePasswords,
        *,
        log_level: str = "INFO",
        log_json: bool = False,
    ) -> None:
        self._count = count
        self._endpoint = endpoint
        self._access = access
        self._passwords = passwords
        self._log_level = log_level
        self._log_json = log_json
        self._fronts: dict[int, _Front] = {}
        self._holders: dict[str, int] = {}
        """Device ID → the front it registered through (while the table has it so)."""
        self._adopting = False
        self._supervisors: set[asyncio.Task[None]] = set()
        self._closing = False
        self._restarts = 0
        self._ended: list[FrontCounts] = []

    async def start(self) -> None:
        """Start every front; raises `OSError` or `TimeoutError` when one cannot start."""
        self._access.add_presence_observer(self._presence_changed)
        self._passwords.add_listener(self._password_changed)
        for index in range(self._count):
            await self._start_one(index)

    async def close(self) -> None:
        self._closing = True
        for task in list(self._supervisors):
            task.cancel()
        await asyncio.gather(*self._supervisors, return_exceptions=True)
        await asyncio.gather(*(self._stop(front) for front in self._fronts.values()))
        self._fronts.clear()

    @property
    def totals(self) -> FrontTotals:
        reports = [_NO_COUNTS, *(front.counts for front in self._fronts.values()), *self._ended]
        summed = FrontCounts(*(sum(column) for column in zip(*reports, strict=True)))
        return FrontTotals(len(self._fronts), self._restarts, summed)

    # -- processes ------------------------------------------------------------------------

    async def _start_one(self, index: int) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        settings = self._endpoint.settings
        spec = FrontSpec(
            name=f"front-{index}",
            host=settings.host,
            port=self._endpoint.port,
            channel_fd=theirs.fileno(),
            secret=self._access.nonce_secret,
            sip=settings,
            registrar=self._access.settings,
            default_password=self._passwords.default_password,
            accept_unknown_devices=self._passwords.accept_unknown_devices,
            enrolled=dict(self._passwords.enrolled),
            log_level=self._log_level,
            log_json=self._log_json,
        )
        try:
            process = await start_child(
                "sip-front", spec.to_json(), name=f"SIP front {spec.name}",
                ready_within=START_TIMEOUT, pass_fds=(theirs.fileno(),),
            )  # fmt: skip
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()  # the front has its own copy now
        front = _Front(index, process)
        front.channel = Channel(ours, lambda records: self.front_said(front, records),
                                name=spec.name)  # fmt: skip
        self._fronts[index] = front
        # Enrolments changed while it started reached no front of this index: tell it now.
        enrolled = self._passwords.enrolled
        for device_id in spec.enrolled.keys() - enrolled.keys():
            front.channel.send(PasswordChanged(device_id, False, None))
        for device_id, password in enrolled.items():
            if device_id not in spec.enrolled or spec.enrolled[device_id] != password:
                front.channel.send(PasswordChanged(device_id, True, password))
        task = asyncio.get_running_loop().create_task(self._supervise(front))
        self._supervisors.add(task)
        task.add_done_callback(self._supervisors.discard)
        log.info("SIP front %s started (pid %d) on UDP port %d", spec.name, process.pid,
                 spec.port)  # fmt: skip

    async def _supervise(self, front: _Front) -> None:
        code = await front.process.wait()
        if self._closing:
            return
        log.error("SIP front front-%d (pid %d) exited with %s; its devices are served by the "
                  "platform and the other fronts until it is back", front.index,
                  front.process.pid, code)  # fmt: skip
        self._lose(front)
        pause = RESTART_MIN
        while not self._closing:
            await asyncio.sleep(pause)  # a backoff between attempts, not a race
            try:
                await self._start_one(front.index)
            except (OSError, TimeoutError) as error:
                log.error("SIP front front-%d did not start again: %s", front.index, error)
                pause = min(RESTART_MAX, pause * 2)
                continue
            self._restarts += 1
            return

    def _lose(self, front: _Front) -> None:
        front.channel.close()
        self._fronts.pop(front.index, None)
        self._ended.append(front.counts)
        for device_id in [d for d, holder in self._holders.items() if holder == front.index]:
            del self._holders[device_id]

    async def _stop(self, front: _Front) -> None:
        front.channel.close()
        await stop_child(front.process, name=f"SIP front front-{front.index}", within=STOP_TIMEOUT)

    # -- what the fronts report -----------------------------------------------------------

    def front_said(self, front: _Front, records: list[Record]) -> None:
        access = self._access
        for record in records:
            try:
                if isinstance(record, Forwarded):
                    self._endpoint.front_datagram(record.data, record.host, record.port)
                elif isinstance(record, Registered):
                    self._adopt(front, record)
                elif isinstance(record, KeepaliveSeen):
                    source = Address(record.host, record.port, Transport.UDP)
                    if not access.adopt_keepalive(
                        record.device_id, source, record.status, record.gb_version
                    ):
                        self._forget(record.device_id)
                elif isinstance(record, FrontCounts):
                    front.counts = record
            except Exception:
                # Isolation boundary: one record (one device's registration or datagram).
                log.exception("applying a SIP front's %s failed", type(record).__name__)

    def _adopt(self, front: _Front, record: Registered) -> None:
        now = self._access.now()
        previous = self._holders.get(record.device_id)
        if previous is not None and previous != front.index:
            self._tell(previous, Forget(record.device_id))
        self._holders[record.device_id] = front.index
        registration = Registration(
            device_id=record.device_id,
            address=Address(record.host, record.port, Transport.UDP),
            contact=record.contact,
            expires_at=now + record.granted,
            registered_at=now,
            call_id=record.call_id,
            gb_version=record.gb_version,
            user_agent=record.user_agent,
        )
        self._adopting = True
        try:
            self._access.adopt_registration(registration)
        finally:
            self._adopting = False

    def _presence_changed(self, event: PresenceEvent) -> None:
        """The table of record changed without a front's report: whoever held the device
        (registered through it) must no longer answer for it."""
        if self._adopting:
            return
        if isinstance(event, DeviceCameOnline | RegistrationRefreshed):
            self._forget(event.registration.device_id)
        elif isinstance(event, DeviceWentOffline):
            self._forget(event.device_id)

    def _forget(self, device_id: str) -> None:
        holder = self._holders.pop(device_id, None)
        if holder is not None:
            self._tell(holder, Forget(device_id))

    def _password_changed(self, device_id: str, enrolled: bool, password: str | None) -> None:
        for index in self._fronts:
            self._tell(index, PasswordChanged(device_id, enrolled, password))

    def _tell(self, index: int, record: Record) -> None:
        front = self._fronts.get(index)
        if front is not None:
            front.channel.send(record)
