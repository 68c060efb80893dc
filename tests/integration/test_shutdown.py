"""Stopping the platform as an operator's tools do: the signal reaches every process.

Ctrl-C in a terminal and systemd's default stop both signal the whole process group, media
workers included. The workers must leave their end to the platform (they exit when its pipe
closes), or the platform sees them die under it and reports a crash while stopping.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.peers.server_process import start_server

WORKERS = {"FARMWATCH_MEDIA_WORKERS": "2"}


def _wait_for_log(server_log: Path, text: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while text not in server_log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not logged:\n{server_log.read_text()[-3000:]}")
        time.sleep(0.1)


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_signalling_the_whole_process_group_stops_cleanly(
    tmp_path: Path, signal_number: signal.Signals
) -> None:
    server = start_server(tmp_path, WORKERS, new_session=True)
    group = os.getpgid(server.process.pid)
    try:
        _wait_for_log(server.log_path, "media worker media-1 started", 30)
        os.killpg(group, signal_number)
        returncode = server.process.wait(timeout=30)
    finally:
        if server.process.poll() is None:
            os.killpg(group, signal.SIGKILL)
            server.process.wait()
    log = server.log_text()
    assert returncode == 0, log[-3000:]
    assert "farmwatch platform stopped" in log
    assert " ERROR " not in log, log[-3000:]
    deadline = time.monotonic() + 10
    while True:  # no worker left behind
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            break
        if time.monotonic() > deadline:
            left = subprocess.run(["ps", "-o", "pid,args", "-g", str(group)],
                                  capture_output=True, text=True).stdout  # fmt: skip
            raise AssertionError(f"processes left in the group:\n{left}")
        time.sleep(0.1)
