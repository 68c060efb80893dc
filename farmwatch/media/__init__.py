"""farmwatch.media: RTP/PS ingest and media streams (DESIGN.md "media"; gb28181.md §6.5, §8).

Public API of the pure ingest cores. Other parts import from here, not from the modules.
"""

from farmwatch.media.errors import DemuxError, FramingError, MediaError, RtpParseError
from farmwatch.media.events import (
    MediaStarted,
    MediaStartTimedOut,
    MediaStopped,
    PeerClosed,
    ReceiverEvent,
    ReceiverListener,
    RecordingEnded,
    VideoInterrupted,
)
from farmwatch.media.frames import TIMESTAMP_CLOCK_RATE, Codec, EsFrame, MediaKind
from farmwatch.media.ingest import IngestStats
from farmwatch.media.manager import MediaListener, MediaManager, MediaTransport, OpenedStream
from farmwatch.media.nal import (
    MAX_PARAMETER_SET_SIZE,
    H264NalType,
    H265NalType,
    NalClass,
    ParameterSets,
    VideoSize,
    classify_nal_header,
    extract_parameter_sets,
    is_keyframe,
    nal_unit_type,
    parse_sps_size,
    sniff_video_codec,
    split_nal_units,
)
from farmwatch.media.playback_clock import PlaybackClock
from farmwatch.media.ports import PortPool, PortsExhausted
from farmwatch.media.ps_demux import (
    DEFAULT_MAX_FRAME_SIZE,
    STREAM_TYPE_CODECS,
    DemuxStats,
    PsDemuxer,
)
from farmwatch.media.psm import parse_program_stream_map
from farmwatch.media.queue_sink import (
    DEFAULT_SINK_QUEUE_BYTES,
    DEFAULT_SINK_QUEUE_FRAMES,
    QueuedSink,
)
from farmwatch.media.receiver import Receiver
from farmwatch.media.reorder import PacketsLost, ReorderBuffer, ReorderOutput
from farmwatch.media.rfc4571 import Framing, Rfc4571Deframer, frame
from farmwatch.media.rtp import (
    ReportBlock,
    RtcpBye,
    RtcpPacket,
    RtcpReceiverReport,
    RtcpSenderReport,
    RtcpSourceDescription,
    RtpHeaderExtension,
    RtpPacket,
    build_receiver_report,
    is_rtcp,
    parse_rtcp,
)
from farmwatch.media.settings import MediaSettings
from farmwatch.media.source_hold import BackpressureSink
from farmwatch.media.stream import (
    DropReportingSink,
    SinkStats,
    Stream,
    StreamClosedError,
    StreamStats,
    Subscription,
)
from farmwatch.media.stream_core import CloseReason, StreamState
from farmwatch.media.stream_progress import StreamProgress
from farmwatch.media.tcp_receiver import TcpActiveReceiver, TcpPassiveReceiver
from farmwatch.media.udp_receiver import SharedPortDemux, SharedPortReceiver, UdpReceiver

__all__ = [
    "DEFAULT_SINK_QUEUE_BYTES",
    "DEFAULT_SINK_QUEUE_FRAMES",
    "QueuedSink",
    "DEFAULT_MAX_FRAME_SIZE",
    "STREAM_TYPE_CODECS",
    "TIMESTAMP_CLOCK_RATE",
    "Codec",
    "DemuxError",
    "DemuxStats",
    "EsFrame",
    "Framing",
    "FramingError",
    "H264NalType",
    "H265NalType",
    "MediaError",
    "MediaKind",
    "NalClass",
    "PacketsLost",
    "PlaybackClock",
    "MAX_PARAMETER_SET_SIZE",
    "ParameterSets",
    "PsDemuxer",
    "ReorderBuffer",
    "ReorderOutput",
    "ReportBlock",
    "Rfc4571Deframer",
    "RtcpBye",
    "RtcpPacket",
    "RtcpReceiverReport",
    "RtcpSenderReport",
    "RtcpSourceDescription",
    "RtpHeaderExtension",
    "RtpPacket",
    "RtpParseError",
    "VideoInterrupted",
    "VideoSize",
    "build_receiver_report",
    "classify_nal_header",
    "extract_parameter_sets",
    "frame",
    "is_keyframe",
    "is_rtcp",
    "nal_unit_type",
    "parse_program_stream_map",
    "parse_rtcp",
    "parse_sps_size",
    "sniff_video_codec",
    "split_nal_units",
    "MediaStarted",
    "MediaStartTimedOut",
    "MediaStopped",
    "PeerClosed",
    "ReceiverEvent",
    "ReceiverListener",
    "RecordingEnded",
    "IngestStats",
    "MediaListener",
    "MediaManager",
    "MediaTransport",
    "OpenedStream",
    "PortPool",
    "PortsExhausted",
    "Receiver",
    "MediaSettings",
    "BackpressureSink",
    "DropReportingSink",
    "SinkStats",
    "Stream",
    "StreamClosedError",
    "StreamProgress",
    "StreamStats",
    "Subscription",
    "CloseReason",
    "StreamState",
    "TcpActiveReceiver",
    "TcpPassiveReceiver",
    "SharedPortDemux",
    "SharedPortReceiver",
    "UdpReceiver",
]
