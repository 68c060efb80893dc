"""How a farm camera reaches the platform (接入方式, regulation art. 5–6): straight over
GB/T 28181, through the farm's NVR, or through a lower platform. Stable English values on
the wire and in the database, Chinese labels for people."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AccessMethod"]


class AccessMethod(StrEnum):
    GB28181_DIRECT = "gb28181_direct"
    VIA_NVR = "via_nvr"
    VIA_LOWER_PLATFORM = "via_lower_platform"

    @property
    def label_zh(self) -> str:
        return _LABELS_ZH[self]

    @property
    def label_en(self) -> str:
        return _LABELS_EN[self]


_LABELS_ZH = {
    AccessMethod.GB28181_DIRECT: "国标直连",
    AccessMethod.VIA_NVR: "经硬盘录像机接入",
    AccessMethod.VIA_LOWER_PLATFORM: "经下级平台接入",
}
_LABELS_EN = {
    AccessMethod.GB28181_DIRECT: "GB/T 28181 direct",
    AccessMethod.VIA_NVR: "Through an NVR",
    AccessMethod.VIA_LOWER_PLATFORM: "Through a lower platform",
}
