"""What the sampler tells the fault tickets (regulation art. 19): the `PictureFaults` port.

The sampler calls it after every sample that judged a picture (not after an unavailable
one: a camera that does not answer is the offline fault's business): `picture_failed` once
per failed check, `picture_passed` when every check passed. Calls repeat at every sample, so
an implementation opens a ticket once and treats the repeats as "still failing".
"""

from __future__ import annotations

from typing import Protocol

from farmwatch.platform.supervision.diagnosis.checks import PictureFault

__all__ = ["PictureFaults"]


class PictureFaults(Protocol):
    async def picture_failed(self, channel_id: str, kind: PictureFault, detail: str) -> None: ...

    async def picture_passed(self, channel_id: str) -> None: ...
