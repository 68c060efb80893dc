"""A sampled picture as the checks read it: the snapshot JPEG decoded into numpy planes.

Owns turning the JPEG that `LiveService.snapshot` gives (a camera's latest keyframe, decoded
and scaled down on the media node that runs its stream) into a `Picture`: full-range Y'CbCr
4:2:0 planes. CPU work: the sampler runs it in its worker pool, never on the event loop.
"""

from __future__ import annotations

from typing import Any

import av
import numpy as np

from farmwatch.platform.supervision.diagnosis.checks import Picture, Plane

__all__ = ["PictureUnreadable", "decode_jpeg", "picture_from_frame"]


class PictureUnreadable(Exception):
    """The sample does not decode into a picture."""


def decode_jpeg(jpeg: bytes) -> Picture:
    decoder: Any = av.CodecContext.create("mjpeg", "r")
    try:
        frames = [*decoder.decode(av.Packet(jpeg)), *decoder.decode(None)]
    except av.error.FFmpegError as error:
        raise PictureUnreadable(f"snapshot does not decode: {error}") from error
    if not frames:
        raise PictureUnreadable("snapshot gave no picture")
    return picture_from_frame(frames[0])


def picture_from_frame(frame: Any) -> Picture:
    """The planes of a decoded PyAV video frame, converted to full-range 4:2:0 if needed."""
    if frame.format.name != "yuvj420p":
        frame = frame.reformat(format="yuvj420p")
    luma, cb, cr = (_plane(frame.planes[index]) for index in range(3))
    try:
        return Picture(luma=luma, cb=cb, cr=cr)
    except ValueError as error:
        raise PictureUnreadable(str(error)) from error


def _plane(plane: Any) -> Plane:
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    result: Plane = rows[:, : plane.width]
    return result
