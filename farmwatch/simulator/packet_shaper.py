"""Deliberate RTP misbehaviour of a simulated device: packet loss and reordering (gb28181.md §8.1).

Owns what happens to each ready RTP packet between the packetiser and the socket: with
probability `loss` it is dropped; otherwise, with probability `reorder`, it is held back and
sent right after the next packet (the two swap places on the wire). Decisions come from an
injected `random.Random`, so a seed replays the same pattern. Pure: no I/O, no clock.
"""

from __future__ import annotations

import random

__all__ = ["PacketShaper"]


class PacketShaper:
    """Drops and swaps packets; at most one packet is ever held back."""

    def __init__(self, *, loss: float, reorder: float, rng: random.Random) -> None:
        if not 0.0 <= loss < 1.0 or not 0.0 <= reorder < 1.0:
            raise ValueError(f"loss and reorder must be in [0, 1), got {loss}, {reorder}")
        self._loss = loss
        self._reorder = reorder
        self._rng = rng
        self._held: bytes | None = None
        self.dropped = 0
        self.reordered = 0

    @property
    def is_transparent(self) -> bool:
        """True when every packet goes out unchanged and in order."""
        return self._loss == 0.0 and self._reorder == 0.0

    def shape(self, packets: list[bytes]) -> list[bytes]:
        """The packets to send now, in wire order."""
        if self.is_transparent:
            return packets
        out: list[bytes] = []
        for packet in packets:
            if self._loss and self._rng.random() < self._loss:
                self.dropped += 1
            elif self._held is not None:
                out += (packet, self._held)
                self._held = None
                self.reordered += 1
            elif self._reorder and self._rng.random() < self._reorder:
                self._held = packet
            else:
                out.append(packet)
        return out

    def flush(self) -> list[bytes]:
        """The packet held back, if any (when the stream ends)."""
        held, self._held = self._held, None
        return [held] if held is not None else []
