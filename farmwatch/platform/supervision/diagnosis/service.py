"""The diagnosis as the API shows it: a camera's latest result and history, the cameras a
caller may see with their state (optionally only the failing ones), and "sample now"."""

from __future__ import annotations

from dataclasses import dataclass

from farmwatch.platform.access import AccessGate, Principal
from farmwatch.platform.errors import NotFound
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.supervision.diagnosis.checks import DiagnosisThresholds
from farmwatch.platform.supervision.diagnosis.records import CameraPictureState, PictureSample
from farmwatch.platform.supervision.diagnosis.repository import DiagnosisRepository
from farmwatch.platform.supervision.diagnosis.sampler import DiagnosisSampler

__all__ = ["CameraDiagnosis", "DiagnosisService"]


@dataclass(frozen=True, slots=True)
class CameraDiagnosis:
    channel_id: str
    state: CameraPictureState | None
    """None: not sampled yet."""
    history: tuple[PictureSample, ...]
    """Newest first; the first is the latest result."""


class DiagnosisService:
    def __init__(
        self,
        sampler: DiagnosisSampler,
        repository: DiagnosisRepository,
        channels: ChannelRepository,
        gate: AccessGate,
    ) -> None:
        self._sampler = sampler
        self._repository = repository
        self._channels = channels
        self._gate = gate

    @property
    def thresholds(self) -> DiagnosisThresholds:
        return self._sampler.thresholds

    async def camera(self, channel_id: str, *, limit: int) -> CameraDiagnosis:
        """The camera's state and its newest `limit` samples (the route rule checked the
        caller may view it)."""
        await self._known(channel_id)
        # The history first: a sample and the state it made are committed together, so the
        # state read after it is never older than the newest sample shown.
        history = tuple(await self._repository.history(channel_id, limit=limit))
        state = await self._repository.state(channel_id)
        return CameraDiagnosis(channel_id=channel_id, state=state, history=history)

    async def cameras(self, principal: Principal, *, failed_only: bool) -> list[CameraPictureState]:
        """The states of the cameras `principal` may see, by channel ID."""
        visibility = await self._gate.visibility(principal)
        return await self._repository.states(visibility.cameras, failed_only=failed_only)

    async def sample_now(self, channel_id: str) -> PictureSample:
        await self._known(channel_id)
        return await self._sampler.sample_now(channel_id)

    async def _known(self, channel_id: str) -> None:
        if await self._channels.get(channel_id) is None:
            raise NotFound(f"no channel {channel_id}")
