"""Hand-written H.264 parameter sets for the SPS parser's limits (issue 13 item 6)."""

from __future__ import annotations


class _BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, count: int, value: int) -> None:
        self.bits += [(value >> shift) & 1 for shift in range(count - 1, -1, -1)]

    def ue(self, value: int) -> None:
        value += 1
        self.u(value.bit_length() - 1, 0)
        self.u(value.bit_length(), value)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def rbsp(self) -> bytes:
        bits = [*self.bits, 1]  # rbsp_stop_one_bit
        bits += [0] * (-len(bits) % 8)
        return bytes(int("".join(map(str, bits[at : at + 8])), 2) for at in range(0, len(bits), 8))


def h264_sps(poc_cycle: int, *, size: int = 0) -> bytes:
    """An H.264 Baseline SPS NAL unit (header included) for 320x192 with
    pic_order_cnt_type 1 and `poc_cycle` one-bit offsets; padded to `size` bytes if given."""
    writer = _BitWriter()
    writer.u(8, 66)  # profile_idc: Baseline (no chroma fields)
    writer.u(16, 30)  # constraint flags, level_idc
    for value in (0, 0, 1):  # sps id, log2_max_frame_num_minus4, pic_order_cnt_type 1
        writer.ue(value)
    writer.u(1, 0)  # delta_pic_order_always_zero_flag
    writer.se(0)
    writer.se(0)
    writer.ue(poc_cycle)  # num_ref_frames_in_pic_order_cnt_cycle
    writer.bits += [1] * poc_cycle  # offset_for_ref_frame[i] = 0, one bit each
    writer.ue(1)  # max_num_ref_frames
    writer.u(1, 0)
    writer.ue(19)  # pic_width_in_mbs_minus1: 320
    writer.ue(11)  # pic_height_in_map_units_minus1: 192
    writer.u(3, 0b110)  # frame_mbs_only, direct_8x8_inference, no cropping
    nal = b"\x67" + writer.rbsp()
    return nal + b"\x80" * (size - len(nal))  # bytes after the stop bit are never read


def sps_bomb(size: int = 65_535) -> bytes:
    """A `size`-byte SPS that parses to 320x192 with a pic order count cycle of nearly
    `size * 8` entries: a reader that shifts the whole RBSP for each read is quadratic."""
    return h264_sps(size * 8 - 140, size=size)
