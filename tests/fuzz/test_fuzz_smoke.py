"""A fixed-budget fuzz smoke of every network parser (issue 13 item 7): typed errors only.

Three parts, a few seconds in all, each deterministic: every seed and regression through
its target; a derandomized hypothesis run per target (mutated seeds, bounded inputs); and
a coverage-guided atheris run of all targets together in a child process (fixed libFuzzer
seed and number of runs). `bench/fuzz.py` runs the same harness for minutes.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.targets import MAX_INPUT, TARGETS, Target, seeds_of

ROOT = Path(__file__).resolve().parents[2]
ATHERIS_RUNS = 3000


@pytest.mark.parametrize("target", TARGETS, ids=lambda target: target.name)
def test_every_seed_and_regression_passes_its_target(target: Target) -> None:
    seeds = seeds_of(target)
    assert seeds, f"{target.name} has no seeds"
    for seed in seeds:
        target.run(seed[:MAX_INPUT])


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        match draw(st.sampled_from(["flip", "insert", "delete", "copy", "cut"])):
            case "flip" if at < len(data):
                data[at] ^= 1 << draw(st.integers(0, 7))
            case "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=8))
            case "delete":
                del data[at : at + draw(st.integers(1, 16))]
            case "copy" if data:
                start = draw(st.integers(0, len(data) - 1))
                data[at:at] = data[start : start + draw(st.integers(1, 64))]
            case "cut":
                del data[at:]
    return bytes(data[:MAX_INPUT])


@pytest.mark.parametrize("target", TARGETS, ids=lambda target: target.name)
def test_mutated_seeds_raise_only_typed_errors(target: Target) -> None:
    @settings(
        max_examples=150,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutated(seeds_of(target)) | st.binary(max_size=256))
    def run(data: bytes) -> None:
        target.run(data)

    run()


def test_coverage_guided_run_of_all_parsers(tmp_path: Path) -> None:
    if importlib.util.find_spec("atheris") is None:
        pytest.fail("atheris is missing: install the dev extras (pip install -e '.[dev]')")
    result = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.run_atheris", "--runs", str(ATHERIS_RUNS),
         "--seed", "1", "--corpus", str(tmp_path / "corpus")],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    output = result.stderr
    assert result.returncode == 0, output[-6000:]
    assert f"Done {ATHERIS_RUNS} runs" in output, output[-2000:]
