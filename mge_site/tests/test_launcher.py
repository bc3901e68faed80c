"""`make run`'s launcher, for real: set-up, web + worker + scheduler, Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.conf import settings

from mge_site.embedded_redis import free_loopback_port

METRICS_TOKEN = "launcher-test-token"


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    """With the metrics token: /healthz then says what it checked."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.timeout(120)
def test_launcher_serves_runs_a_worker_and_stops_everything_on_ctrl_c(tmp_path):
    port = free_loopback_port()
    environment = {
        **os.environ,
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "MGE_WORKSPACE_ROOT": str(tmp_path / "workspaces"),
        "MGE_METRICS_TOKEN": METRICS_TOKEN,
    }
    launcher = subprocess.Popen(
        [sys.executable, "-m", "mge_site.launcher"],
        cwd=settings.BASE_DIR,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output_pipe = launcher.stdout
    assert output_pipe is not None  # stdout=PIPE
    try:
        deadline = time.monotonic() + 90
        status = 0
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                status, health = get_json(f"http://127.0.0.1:{port}/healthz")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                status = 0
            if status == 200 and health["checks"]["redis"]["rq_workers"] >= 1:
                break
            assert launcher.poll() is None, output_pipe.read()
            time.sleep(0.5)
        assert status == 200, health
        assert health["checks"]["redis"]["rq_workers"] >= 1
        assert health["checks"]["database"]["vendor"] == "sqlite"
    finally:
        launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(timeout=30)
        finally:
            if group_alive(launcher.pid):
                os.killpg(launcher.pid, signal.SIGKILL)
    assert launcher.returncode == 0
    output = output_pipe.read()
    assert f"MGE V2 control plane: http://127.0.0.1:{port}/" in output
    assert "Log in as 'demo' with password" in output
    assert "slugkit.md: loaded as slugkit" in output
    # Every process of the session (web, worker, scheduler) has stopped with the launcher.
    time.sleep(1)
    assert not group_alive(launcher.pid), "processes survived Ctrl-C"


def test_launcher_refuses_a_bad_port():
    result = subprocess.run(
        [sys.executable, "-m", "mge_site.launcher"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "PORT": "eighty"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "PORT='eighty' is not a TCP port number" in result.stderr
