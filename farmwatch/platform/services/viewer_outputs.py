"""A viewer session's outputs on a stream: WebRTC answers, fMP4 bytes, HLS resources.

Shared by live view and recorded-video playback. Each output a viewer opens gets an ID on
the stream's media node; the node says when one closes by itself (peer gone, stream ended)
and `output_closed` forgets it. A session whose outputs are all closed and that fetched no
HLS resource for a while is idle (its owner decides what idle means). Media failures become
clear platform errors for the viewer.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from farmwatch.media.cluster import MediaCluster
from farmwatch.media.errors import InvalidOffer, MediaError
from farmwatch.media.stream import StreamClosedError
from farmwatch.platform.errors import InvalidInput, StreamFailed

__all__ = ["ViewerOutputs"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Session:
    idle_since: float
    outputs: set[str] = field(default_factory=set)


class ViewerOutputs:
    """Outputs of viewer sessions; sessions are named by their owner's session IDs."""

    def __init__(self, media: MediaCluster) -> None:
        self._media = media
        self._sessions: dict[str, _Session] = {}
        self._output_sessions: dict[str, str] = {}

    def add_session(self, session_id: str) -> None:
        self._sessions[session_id] = _Session(asyncio.get_running_loop().time())

    def owns_output(self, output_id: str) -> bool:
        return output_id in self._output_sessions

    def idle_for(self, session_id: str, now: float) -> float:
        """Seconds the session has had no open output and no HLS fetch (0 while watching)."""
        session = self._sessions.get(session_id)
        if session is None:
            return 0.0
        if session.outputs:
            session.idle_since = now
        return now - session.idle_since

    async def close_session(self, session_id: str) -> None:
        """Close the session's open outputs and forget it."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        for output_id in list(session.outputs):
            self._output_sessions.pop(output_id, None)
            try:
                await self._media.close_output(output_id)
            except MediaError as error:  # its node is gone: so is the output
                log.info("session %s: output %s not closed: %s", session_id, output_id, error)

    def output_closed(self, output_id: str) -> None:
        """An output closed by itself on its node."""
        session_id = self._output_sessions.pop(output_id, None)
        session = self._sessions.get(session_id) if session_id is not None else None
        if session is not None:
            session.outputs.discard(output_id)

    def _new_output(self, session_id: str) -> str:
        output_id = secrets.token_urlsafe(9)
        self._sessions[session_id].outputs.add(output_id)
        self._output_sessions[output_id] = session_id
        return output_id

    async def webrtc_answer(
        self, session_id: str, stream_key: str, sdp: str, sdp_type: str
    ) -> tuple[str, str]:
        output_id = self._new_output(session_id)
        try:
            answer = await self._media.webrtc_answer(stream_key, output_id, sdp, sdp_type)
        except InvalidOffer as error:
            self.output_closed(output_id)
            raise InvalidInput(f"invalid SDP offer: {error}") from error
        except (MediaError, ValueError) as error:
            self.output_closed(output_id)
            raise StreamFailed(f"WebRTC negotiation failed: {error}") from error
        return answer.sdp, answer.type

    async def fmp4(
        self, session_id: str, stream_key: str, label: str
    ) -> AsyncGenerator[bytes, None]:
        """The fMP4 bytes of the stream, from the last keyframe on; `label` names it in
        errors ("channel …", "playback …")."""
        output_id = self._new_output(session_id)
        try:
            async for chunk in self._media.fmp4(stream_key, output_id):
                yield chunk
        except StreamClosedError as error:
            raise StreamFailed(f"the stream of {label} has ended") from error
        except MediaError as error:
            raise StreamFailed(f"fMP4 of {label} failed: {error}") from error
        finally:
            self.output_closed(output_id)

    async def hls_resource(
        self, session_id: str, stream_key: str, name: str, label: str
    ) -> tuple[bytes, str] | None:
        """A playlist or segment of the stream's HLS output (shared by its viewers)."""
        # HLS keeps no connection open: each fetch is what says this viewer is still there.
        self._sessions[session_id].idle_since = asyncio.get_running_loop().time()
        try:
            return await self._media.hls_resource(stream_key, name)
        except MediaError as error:
            raise StreamFailed(f"HLS of {label} failed: {error}") from error
