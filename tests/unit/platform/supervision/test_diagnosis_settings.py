"""The diagnosis keys of `[supervision]`: defaults as shipped, overridable like every key,
and refused with the key's name when out of range."""

from __future__ import annotations

import pytest

from farmwatch.platform.supervision.diagnosis import DiagnosisThresholds
from farmwatch.settings import SettingsError, load_settings
from tests.conftest import ROOT


def test_the_shipped_file_holds_the_default_thresholds() -> None:
    settings = load_settings(ROOT / "conf/farmwatch.toml", environ={})
    assert settings.supervision.diagnosis_thresholds == DiagnosisThresholds()
    assert settings.supervision.diagnosis_history == 144


def test_a_threshold_is_overridden_by_the_environment() -> None:
    environ = {"FARMWATCH_SUPERVISION_DIAGNOSIS_BLUR_SHARPNESS": "0.05"}
    settings = load_settings(ROOT / "conf/farmwatch.toml", environ=environ)
    assert settings.supervision.diagnosis_thresholds.blur_sharpness == 0.05


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("DIAGNOSIS_BLACK_LUMA", "300", "diagnosis_black_luma"),
        ("DIAGNOSIS_OVEREXPOSED_LUMA", "20", "diagnosis_black_luma"),  # below black
        ("DIAGNOSIS_FROZEN_DIFFERENCE", "-1", "diagnosis_frozen_difference"),
        ("DIAGNOSIS_HISTORY", "0", "diagnosis_history"),
        ("DIAGNOSIS_COLOUR_CAST", "grey", "diagnosis_colour_cast"),
    ],
)
def test_bad_values_are_refused_by_name(key: str, value: str, named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(ROOT / "conf/farmwatch.toml", environ={f"FARMWATCH_SUPERVISION_{key}": value})
