"""Composition root: build every part from the settings, start in order, stop in reverse."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import logging
import os
import resource
import shutil
import signal
import socket
import ssl
import tempfile
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from farmwatch.cascade.links import CascadeLinks
from farmwatch.descriptor_budget import plan_descriptors
from farmwatch.gc_tuning import tune_garbage_collector
from farmwatch.media.cluster import MediaCluster, worker_count
from farmwatch.media.manager import MediaTransport
from farmwatch.media.sinks.segment_recorder import RecordedSegment
from farmwatch.media.stream_core import CloseReason
from farmwatch.platform.access import create_access_services
from farmwatch.platform.audit import AuditLog
from farmwatch.platform.cameras import CameraTree, PlacementRepository
from farmwatch.platform.db import DatabaseUnavailable, create_database, resolve_database_url
from farmwatch.platform.observability import LoopLagMonitor, MetricSources, PlatformMetrics
from farmwatch.platform.recordings.clip_service import ClipService
from farmwatch.platform.recordings.download_service import DownloadService
from farmwatch.platform.recordings.platform_recording import PlatformRecording, RecordingPolicy
from farmwatch.platform.recordings.playback_service import PlaybackService
from farmwatch.platform.recordings.record_search import RecordSearchService
from farmwatch.platform.recordings.repository import RecordingRepository
from farmwatch.platform.repositories.alarm_repository import AlarmRepository
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.repositories.device_repository import DeviceRepository
from farmwatch.platform.repositories.device_snapshot_repository import DeviceSnapshotRepository
from farmwatch.platform.repositories.position_repository import PositionRepository
from farmwatch.platform.repositories.upper_share_repository import UpperShareRepository
from farmwatch.platform.services.alarm_service import AlarmService
from farmwatch.platform.services.broadcast_service import BroadcastService
from farmwatch.platform.services.control_floor import ControlFloor, FloorSettings
from farmwatch.platform.services.device_command_service import DeviceTalk
from farmwatch.platform.services.device_control_service import DeviceControlService
from farmwatch.platform.services.device_recorder import DeviceRecorder
from farmwatch.platform.services.device_service import DeviceService, EnrolmentPolicy
from farmwatch.platform.services.device_snapshot_service import DeviceSnapshotService
from farmwatch.platform.services.live_service import LiveService
from farmwatch.platform.services.position_service import PositionService
from farmwatch.platform.services.talk_inviter import TalkInviter
from farmwatch.platform.sharing.farm_placements import FarmPlacements
from farmwatch.platform.sharing.forwarding import UpperForwarding
from farmwatch.platform.sharing.sharing_service import SharingService
from farmwatch.platform.sharing.upper_shares import UpperShares
from farmwatch.platform.supervision.alarm_evidence import AlarmEvidence
from farmwatch.platform.supervision.anomalies.evidence import EvidenceTaker
from farmwatch.platform.supervision.anomalies.repository import AnomalyRepository
from farmwatch.platform.supervision.anomalies.service import AnomalyService
from farmwatch.platform.supervision.diagnosis import (
    DiagnosisRepository,
    DiagnosisSampler,
    DiagnosisService,
    SamplerSettings,
)
from farmwatch.platform.supervision.farm_flags import SupervisionFlags
from farmwatch.platform.supervision.farms import (
    DocumentStore,
    FarmCameras,
    FarmRegister,
    FarmRegisterRepository,
)
from farmwatch.platform.supervision.faults.feed import FaultFeed
from farmwatch.platform.supervision.faults.reminders import FaultReminders
from farmwatch.platform.supervision.faults.repository import FaultRepository
from farmwatch.platform.supervision.faults.schedule import FaultDeadlines
from farmwatch.platform.supervision.faults.service import FaultService
from farmwatch.platform.supervision.faults.watch import FaultWatch
from farmwatch.platform.supervision.monitoring_repository import MonitoringRepository
from farmwatch.platform.supervision.monitoring_service import MonitoringService, RecordSources
from farmwatch.platform.supervision.overview_service import OverviewService, OverviewSources
from farmwatch.platform.supervision.schedule_service import ScheduleService
from farmwatch.platform.supervision.snapshot_store import SnapshotStore
from farmwatch.platform.supervision.spot_checks.repository import SpotCheckRepository
from farmwatch.platform.supervision.spot_checks.service import SpotCheckService, SpotCheckSources
from farmwatch.platform.supervision.view_snapshots import PlatformSnapshots
from farmwatch.platform.supervision.webhook import Webhook
from farmwatch.settings import Settings, WebSettings
from farmwatch.sipserver.broadcast_calls import BroadcastCalls
from farmwatch.sipserver.call_types import CallEndReason, CallListener
from farmwatch.sipserver.calls import Calls
from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.endpoint import SipEndpoint
from farmwatch.sipserver.front.fronts import SipFronts
from farmwatch.sipserver.gb.manscdp import MediaStatus
from farmwatch.sipserver.settings import SipSettings
from farmwatch.web.app import WebAccess, WebServices, create_web_app
from farmwatch.web.security import HostPolicy

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Start-up failed for a reason the operator fixes in the configuration or on the host.

    The message is one line that names the setting, e.g. `cannot listen for SIP on
    127.0.0.1:5060 ([sip] port): address already in use`.
    """


def _os_reason(error: OSError) -> str:
    if isinstance(error, socket.gaierror) and error.strerror:
        return error.strerror.lower()
    if error.errno and error.errno > 0:
        return os.strerror(error.errno).lower()
    return str(error)


def _listen_error(
    what: str, section: str, address: tuple[str, int], error: OSError, port_key: str = "port"
) -> StartupError:
    """The error of a failed bind, naming `[section] host` or the port setting it points at."""
    if error.errno in (errno.EADDRINUSE, errno.EACCES):
        setting = f"[{section}] {port_key}"
    elif error.errno == errno.EADDRNOTAVAIL or isinstance(error, socket.gaierror):
        setting = f"[{section}] host"
    else:
        setting = f"[{section}] host, {port_key}"
    host, port = address
    return StartupError(
        f"cannot listen for {what} on {host}:{port} ({setting}): {_os_reason(error)}"
    )


def tls_context(settings: WebSettings) -> ssl.SSLContext | None:
    """The web server's TLS context from `[web] tls_cert` and `tls_key`; None for HTTP."""
    if not settings.is_tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as error:
        reason = _os_reason(error) if isinstance(error, OSError) and error.errno else str(error)
        raise StartupError(
            f"cannot load the TLS certificate {settings.tls_cert} and key {settings.tls_key} "
            f"([web] tls_cert, tls_key): {reason}"
        ) from error
    return context


def check_storage(folder: Path) -> None:
    """Create the storage folder if needed and make sure files can be written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise StartupError(
            f"cannot use the storage folder {folder} ([storage] dir): {_os_reason(error)}"
        ) from error


class _MediaEvents:
    """The media cluster's listener, made before the services that handle it exist: streams
    and outputs of playbacks go to the playback service, those of downloads to the download
    service, recorded segments to platform recording, the rest to live view."""

    def __init__(self) -> None:
        self.live: LiveService | None = None
        self.playback: PlaybackService | None = None
        self.downloads: DownloadService | None = None
        self.recording: PlatformRecording | None = None
        self.cascade: CascadeLinks | None = None

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        if self.playback is not None and self.playback.owns_stream(stream_key):
            await self.playback.stream_closed(stream_key, reason)
        elif self.downloads is not None and self.downloads.owns_stream(stream_key):
            await self.downloads.stream_closed(stream_key, reason)
        elif self.live is not None:
            await self.live.stream_closed(stream_key, reason)
            if self.cascade is not None:
                self.cascade.stream_closed(stream_key)

    def keyframe_needed(self, stream_key: str) -> None:
        # Recorded video brings its key frames with it: IFameCmd is for live channels.
        recorded = (self.playback is not None and self.playback.owns_stream(stream_key)) or (
            self.downloads is not None and self.downloads.owns_stream(stream_key)
        )
        if self.live is not None and not recorded:
            self.live.keyframe_needed(stream_key)

    def output_closed(self, output_id: str) -> None:
        if self.playback is not None and self.playback.owns_output(output_id):
            self.playback.output_closed(output_id)
        elif self.live is not None:
            self.live.output_closed(output_id)

    def segment_closed(self, stream_key: str, segment: RecordedSegment) -> None:
        if self.recording is not None:
            self.recording.segment_closed(stream_key, segment)

    def relay_closed(self, relay_id: str, reason: str) -> None:
        if self.cascade is not None:
            self.cascade.relay_closed(relay_id, reason)


class _CallEvents:
    """The calls' listener: every call belongs to live view or to a playback, which each
    ignore the Call-IDs that are not theirs."""

    def __init__(self, *listeners: CallListener) -> None:
        self._listeners = listeners

    def call_ended(self, call_id: str, reason: CallEndReason) -> None:
        for listener in self._listeners:
            listener.call_ended(call_id, reason)

    def media_status(self, call_id: str, status: MediaStatus) -> None:
        for listener in self._listeners:
            listener.media_status(call_id, status)


class Application:
    """One farmwatch platform: database, SIP endpoint, device access, web API."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = resolve_database_url(settings.database.url, Path(settings.storage.dir))
        self.database = create_database(url)
        devices = DeviceRepository(self.database.sessions, self.database.read_sessions)
        channels = ChannelRepository(self.database.sessions, self.database.read_sessions)
        self.recorder = DeviceRecorder(devices, channels)
        self.devices = DeviceService(
            devices,
            channels,
            EnrolmentPolicy(
                default_password=settings.sip.password,
                accept_unknown_devices=settings.registrar.accept_unknown_devices,
            ),
            dialects=settings.live.dialects,
        )
        self.sip = SipEndpoint(sip_within_descriptor_limit(settings))
        self.access = DeviceAccess(
            self.sip,
            settings.sip,
            settings.registrar,
            directory=self.devices,
            listener=self.recorder,
        )
        self.fronts = (
            SipFronts(settings.sip.fronts, self.sip, self.access, self.devices.passwords,
                      log_level=settings.log.level, log_json=settings.log.json)
            if settings.sip.fronts > 0 else None
        )  # fmt: skip
        self.devices.attach(self.access)
        self.calls = Calls(self.sip, self.access)
        forwarder = _MediaEvents()
        # Worker sockets in a short private folder: a Unix socket path may not exceed 107
        # bytes, which a deep storage folder would.
        self._runtime_dir = Path(tempfile.mkdtemp(prefix="farmwatch-"))
        self.media = MediaCluster(
            settings.media,
            forwarder,
            workers=worker_count(settings.media.workers, os.cpu_count()),
            runtime_dir=self._runtime_dir,
            webrtc_addresses=settings.live.webrtc_addresses,
            log_level=settings.log.level,
            log_json=settings.log.json,
        )
        self.live = LiveService(
            self.media,
            self.calls,
            self.access,
            channels,
            platform_id=settings.sip.id,
            transport=MediaTransport(settings.live.transport),
            invite_timeout=settings.live.invite_timeout,
            session_idle=settings.live.session_idle,
            dialects=self.devices,
        )
        live_settings = settings.live
        self.control = DeviceControlService(
            self.access, channels,
            floor=ControlFloor(FloorSettings(hold=live_settings.ptz_hold,
                                             rate=live_settings.ptz_rate,
                                             burst=live_settings.ptz_burst)),
        )  # fmt: skip
        self.broadcast_calls = BroadcastCalls(self.sip, self.access, self.calls)
        self.broadcasts = BroadcastService(
            DeviceTalk(self.access, channels),
            self.broadcast_calls,
            platform_id=settings.sip.id,
            media_host=settings.media.host,
            advertised_host=settings.media.advertised_host,
            webrtc_addresses=settings.live.webrtc_addresses,
            invite_timeout=settings.live.invite_timeout,
            inviter=TalkInviter(
                self.calls,
                platform_id=settings.sip.id,
                media_host=settings.media.host,
                advertised_host=settings.media.advertised_host,
                transport=MediaTransport(settings.live.transport),
                invite_timeout=settings.live.invite_timeout,
            ),
        )
        storage = Path(settings.storage.dir)
        recordings = RecordingRepository(self.database.sessions)
        self.playback = PlaybackService(
            self.media,
            self.calls,
            self.access,
            channels,
            recordings,
            storage=storage,
            platform_id=settings.sip.id,
            zone=settings.registrar.zone,
            transport=MediaTransport(settings.recordings.transport),
            invite_timeout=settings.live.invite_timeout,
            session_idle=settings.live.session_idle,
        )
        self.downloads = DownloadService(
            recordings,
            self.media,
            self.calls,
            self.access,
            channels,
            platform_id=settings.sip.id,
            storage=storage,
            zone=settings.registrar.zone,
            transport=MediaTransport(settings.recordings.download_transport),
            invite_timeout=settings.live.invite_timeout,
        )
        self.recording = PlatformRecording(
            recordings,
            self.live,
            self.media,
            channels,
            storage=storage,
            zone=settings.registrar.zone,
            policy=RecordingPolicy(
                segment_length=timedelta(minutes=settings.recordings.segment_minutes),
                reconcile_interval=settings.recordings.reconcile_interval,
                retention_days=settings.recordings.retention_days,
                disk_high_watermark=settings.recordings.disk_high_watermark,
                max_bytes=int(settings.recordings.max_gigabytes * 1e9),
            ),
        )
        self.clips = ClipService(
            recordings, self.downloads, channels, storage=storage, zone=settings.registrar.zone
        )
        forwarder.live = self.live
        forwarder.playback = self.playback
        forwarder.downloads = self.downloads
        forwarder.recording = self.recording
        self.calls.set_listener(
            _CallEvents(self.live, self.playback, self.downloads, self.broadcasts)
        )
        self.record_search = RecordSearchService(
            self.access,
            channels,
            recordings,
            zone=settings.registrar.zone,
            slice_length=timedelta(hours=settings.recordings.search_slice_hours),
        )
        self.cascade = CascadeLinks(
            self.sip,
            settings.upper,
            platform_id=settings.sip.id,
            domain=settings.sip.domain,
            system_name=f"farmwatch {settings.sip.id}",
            sharing=SharingService(devices, channels, FarmPlacements(self.database.read_sessions)),
            # The upper platforms steer cameras on the same floor as the local users.
            forwarding=UpperForwarding(
                self.access, channels, self.record_search, floor=self.control.floor
            ),
            live=self.live,
            playback=self.playback,
            broadcasts=self.broadcasts,
        )
        forwarder.cascade = self.cascade
        self.upper_shares = UpperShares(UpperShareRepository(self.database.sessions), self.cascade)
        self.recorder.change_listeners.append(self.cascade.catalog_changed)
        self.recorder.listeners.append(self.cascade.device_event)
        self.audit = AuditLog(self.database.sessions)
        self.access_services = create_access_services(
            self.database.sessions, self.audit, settings.access,
            read_sessions=self.database.read_sessions,
        )  # fmt: skip
        alarm_repository = AlarmRepository(self.database.sessions)
        self.alarms = AlarmService(
            alarm_repository, self.control.commands,
            self.access_services.gate, zone=settings.registrar.zone,
        )  # fmt: skip
        self.recorder.listeners.append(self.alarms.device_event)
        self.alarm_evidence = AlarmEvidence(
            alarm_repository, self.clips,
            EvidenceTaker(self.clips, self.recording, before=settings.supervision.evidence_before,
                          after=settings.supervision.evidence_after),
            self.recording.due_channels,
        )  # fmt: skip
        if settings.supervision.alarm_evidence:
            self.alarms.stored_listeners.append(self.alarm_evidence.alarms_stored)
            self.alarms.clip_awaited = self.alarm_evidence.is_awaited
        self.positions = PositionService(
            PositionRepository(self.database.sessions), zone=settings.registrar.zone
        )
        self.recorder.listeners.append(self.positions.device_event)
        self.device_snapshots = DeviceSnapshotService(
            DeviceSnapshotRepository(self.database.sessions), DeviceTalk(self.access, channels),
            storage=storage, upload_base=settings.web.device_url,
        )  # fmt: skip
        self.recorder.listeners.append(self.device_snapshots.device_event)
        placements = PlacementRepository(self.database.sessions, self.database.read_sessions)
        self.camera_tree = CameraTree(devices, channels, placements, self.access_services)
        monitoring = MonitoringRepository(self.database.sessions, self.database.read_sessions)
        gate, directory = self.access_services.gate, self.access_services.directory
        self.monitoring = MonitoringService(
            monitoring,
            RecordSources(
                gate, directory, placements, self.access_services.owners,
                PlatformSnapshots(self.live, self.playback),
            ),
            SnapshotStore(storage),
            zone=settings.registrar.zone,
        )  # fmt: skip
        supervision = settings.supervision
        # One sender for every service that tells an outside system (anomalies, faults).
        webhook = Webhook(supervision.webhook_url)
        anomaly_repository = AnomalyRepository(self.database.sessions)
        self.anomalies = AnomalyService(
            anomaly_repository,
            self.clips,
            EvidenceTaker(self.clips, self.recording, before=supervision.evidence_before,
                          after=supervision.evidence_after),
            self.access_services.gate,
            self.access_services.directory,
            webhook,
            zone=settings.registrar.zone,
        )  # fmt: skip
        fault_repository = FaultRepository(self.database.sessions)
        self.faults = FaultService(
            fault_repository, self.access_services.gate,
            self.access_services.directory, self.access_services.cameras, FaultFeed(),
            webhook, zone=settings.registrar.zone,
        )  # fmt: skip
        # The video quality diagnosis reports each camera's picture to the fault tickets:
        # an offline camera's ticket then closes on a good picture, not merely on the device
        # coming back.
        self.fault_watch = FaultWatch(
            self.faults, devices, self.access_services.directory, self.access,
            offline_after=supervision.fault_offline_after,
        )  # fmt: skip
        diagnoses = DiagnosisRepository(self.database.sessions)
        self.diagnosis_sampler = DiagnosisSampler(
            self.live, channels, self.access.is_online, diagnoses,
            SamplerSettings(
                interval=supervision.diagnosis_interval, workers=supervision.diagnosis_workers,
                history=supervision.diagnosis_history,
                thresholds=supervision.diagnosis_thresholds,
            ),
            self.fault_watch,
        )  # fmt: skip
        self.fault_watch.picture_check = self.diagnosis_sampler.sample_now
        self.diagnosis = DiagnosisService(
            self.diagnosis_sampler, diagnoses, channels, self.access_services.gate
        )
        self.recorder.listeners.append(self.fault_watch.device_event)
        self.live.health_listeners.append(self.fault_watch)
        self.fault_reminders = FaultReminders(
            self.faults,
            FaultDeadlines(
                remind_after=timedelta(seconds=supervision.fault_remind_after),
                escalate_after=timedelta(seconds=supervision.fault_escalate_after),
            ),
        )
        self.schedule = ScheduleService(
            monitoring, directory, gate, default_days=settings.supervision.schedule_days
        )
        self.farm_register = FarmRegister(
            FarmRegisterRepository(
                self.database.sessions, self.database.read_sessions, writing=directory.writing
            ),
            DocumentStore(storage, max_bytes=settings.supervision.farm_document_max_bytes),
            FarmCameras(directory, channels, placements),
            self.access_services,
            self.audit,
            SupervisionFlags(self.faults, self.anomalies),
            zone=settings.registrar.zone,
        )
        spot_check_repository = SpotCheckRepository(
            self.database.sessions, self.database.read_sessions
        )
        self.spot_checks = SpotCheckService(
            spot_check_repository,
            SpotCheckSources(gate, self.access_services.cameras, directory, channels, placements),
        )
        self.overview = OverviewService(
            OverviewSources(
                gate, directory, self.camera_tree, self.schedule, monitoring,
                FarmRegisterRepository(
                    self.database.sessions, self.database.read_sessions, writing=directory.writing
                ),
                fault_repository, anomaly_repository, spot_check_repository,
                diagnoses,
            ),
            default_days=settings.supervision.schedule_days,
        )  # fmt: skip
        self.loop_lag = LoopLagMonitor()
        self.metrics = PlatformMetrics(
            MetricSources(sip=self.sip, access=self.access, media=self.media,
                          loop_lag=self.loop_lag, recording=self.recording, fronts=self.fronts)
        )  # fmt: skip
        self._web_runner: web.AppRunner | None = None
        self._stack = AsyncExitStack()

    async def start(self) -> None:
        """Start every part; raises `StartupError` naming the setting when one cannot."""
        stack = self._stack
        settings = self.settings
        check_storage(Path(settings.storage.dir))
        ssl_context = tls_context(settings.web)
        await self.loop_lag.start()
        stack.push_async_callback(self.loop_lag.close)
        stack.push_async_callback(self.database.close)
        try:
            await self.database.start()
        except DatabaseUnavailable as error:
            setting = "[database] url" if settings.database.url else "[storage] dir"
            raise StartupError(
                f"cannot open the database {error.url} ({setting}): {error.reason}"
            ) from error
        await self.recorder.start()
        stack.push_async_callback(self.recorder.close)
        await self.alarms.start()
        stack.push_async_callback(self.alarms.close)
        await self.positions.start()
        stack.push_async_callback(self.positions.close)
        # Closed after everything that sends through it (calls BYE on the way out).
        stack.push_async_callback(self.sip.close)
        await self.access.start()
        stack.push_async_callback(self.access.close)
        await self.calls.start()  # after access: it wraps the MESSAGE handler
        stack.push_async_callback(self.calls.close)
        self.broadcast_calls.start()  # after calls: it joins their BYE handler
        stack.push_async_callback(self.broadcast_calls.close)
        stack.push_async_callback(self.broadcasts.close)
        stack.callback(shutil.rmtree, self._runtime_dir, ignore_errors=True)
        try:
            await self.media.start()
        except OSError as error:
            address = (settings.media.host, settings.media.shared_port)
            raise _listen_error("RTP", "media", address, error, "shared_port") from error
        stack.push_async_callback(self.media.close)
        stack.push_async_callback(self.live.close)
        stack.push_async_callback(self.record_search.close)
        stack.push_async_callback(self.playback.close)
        await self.downloads.start()
        stack.push_async_callback(self.downloads.close)
        stack.push_async_callback(self.clips.close)
        # Before the clips: a clip under way for an alarm is not started once they close.
        stack.push_async_callback(self.alarm_evidence.close)
        # Registrations are restored before SIP listens: a keepalive arriving the moment
        # the port opens must find its device known, not be refused with 403.
        await self.devices.start()
        try:
            await self.sip.start()
        except OSError as error:
            address = (settings.sip.host, settings.sip.port)
            raise _listen_error("SIP", "sip", address, error) from error
        if self.fronts is not None:
            stack.push_async_callback(self.fronts.close)
            try:
                await self.fronts.start()
            except (OSError, TimeoutError) as error:
                raise StartupError(
                    f"the SIP fronts ([sip] fronts = {settings.sip.fronts}) did not start: {error}"
                ) from error
        # Segments a kill cut are repaired and indexed, then the plans reconciled: recording
        # resumes by itself after a restart, as soon as the devices are back.
        await self.recording.start()
        stack.push_async_callback(self.recording.close)
        # After the registrations are restored: a device offline now is one they left out.
        await self.fault_watch.start()
        stack.push_async_callback(self.fault_watch.close)
        await self.fault_reminders.start()
        stack.push_async_callback(self.fault_reminders.close)
        # After recording (evidence is cut from its segments); closed before the clips.
        await self.anomalies.start()
        stack.push_async_callback(self.anomalies.close)
        # Upper links register once SIP listens (their answers come to its port); closed
        # before SIP, so that each can unregister. Each starts with its stored share.
        await self.upper_shares.load()
        self.cascade.start()
        stack.push_async_callback(self.cascade.close)
        # Samples start streams through the live service: closed before it.
        await self.diagnosis_sampler.start()
        stack.push_async_callback(self.diagnosis_sampler.close)
        web_settings = self.settings.web
        if not await self.access_services.directory.count_users():
            log.warning(
                "no user account exists: nobody can log in to the web API until the first "
                "administrator is created with `farmwatch create-admin NAME`"
            )
        hosts = HostPolicy.build(
            web_settings.host, web_settings.allowed_hosts, web_settings.allowed_origins
        )
        runner = web.AppRunner(
            create_web_app(
                WebServices(
                    self.devices,
                    self.live,
                    self.record_search,
                    self.playback,
                    self.downloads,
                    self.clips,
                    self.recording,
                    self.cascade,
                    self.control,
                    WebAccess(self.access_services, self.audit, self.database),
                    shares=self.upper_shares,
                    cameras=self.camera_tree,
                    alarms=self.alarms,
                    positions=self.positions,
                    monitoring=self.monitoring,
                    schedule=self.schedule,
                    farms=self.farm_register,
                    faults=self.faults,
                    anomalies=self.anomalies,
                    spot_checks=self.spot_checks,
                    overview=self.overview,
                    diagnosis=self.diagnosis,
                    device_snapshots=self.device_snapshots,
                    broadcasts=self.broadcasts,
                ),  # fmt: skip
                hosts,
                self.metrics,
            ),
            access_log=None,
        )
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        # Before the web server waits for its requests to finish: the alarm feed's long
        # polls answer at once instead of holding the shutdown for their wait.
        stack.callback(self.alarms.release_waiters)
        stack.callback(self.faults.feed.release_waiters)
        stack.callback(self.anomalies.release_waiters)
        site = web.TCPSite(runner, web_settings.host, web_settings.port, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as error:
            address = (web_settings.host, web_settings.port)
            raise _listen_error("the web API", "web", address, error) from error
        self._web_runner = runner
        log.info(
            "farmwatch platform %s (domain %s) started: SIP port %d, web %s://%s:%d, database %s",
            self.settings.sip.id,
            self.settings.sip.domain,
            self.sip.port,
            "https" if ssl_context is not None else "http",
            self.settings.web.host,
            self.settings.web.port,
            self.database.dialect_name,
        )

    async def close(self) -> None:
        await self._stack.aclose()
        log.info("farmwatch platform stopped")


def raise_descriptor_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit where allowed; the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _NR_OPEN
    target = _NR_OPEN if hard == resource.RLIM_INFINITY else hard
    if soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as error:
        log.info("cannot raise the descriptor limit from %d to %d: %s", soft, target, error)
        return soft
    return target


# An unlimited RLIMIT_NOFILE still meets the kernel's fs.nr_open (1048576 by default).
_NR_OPEN = 1 << 20


def sip_within_descriptor_limit(settings: Settings) -> SipSettings:
    """`settings.sip` with `tcp_max_connections` lowered to fit the descriptor limit."""
    first_port, last_port = settings.media.port_bounds
    budget = plan_descriptors(
        raise_descriptor_limit(),
        configured=settings.sip.tcp_max_connections,
        media_ports=last_port - first_port + 1,
    )
    warning = budget.warning()
    if warning is not None:
        log.warning("%s", warning)
    if not budget.lowered:
        return settings.sip
    return dataclasses.replace(
        settings.sip,
        tcp_max_connections=budget.tcp_max_connections,
        tcp_max_connections_per_address=min(
            settings.sip.tcp_max_connections_per_address, budget.tcp_max_connections
        ),
    )


async def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM."""
    app = Application(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await app.start()
        tune_garbage_collector()
        await stop.wait()
    finally:
        await app.close()
