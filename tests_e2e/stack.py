"""A real Home Assistant and the simulator as processes, for the end-to-end suite."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
HA_URL = "http://127.0.0.1:8123"
SIM_PORT = 8199
SIM_URL = f"http://127.0.0.1:{SIM_PORT}"
TOKEN = "e2e-token-3c5b7a9d"
OWNER = {"name": "E2E Owner", "username": "owner", "password": "e2e-password-1234"}
CLIENT_ID = f"{HA_URL}/"
SKIPPED_PACKAGES = "pymicro-vad,pyspeex-noise"
"""No Python 3.14 wheel here and they cannot be built (the assist pipeline needs them)."""


def _wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")


class Stack:
    """The simulator and a throwaway Home Assistant, started and stopped together."""

    def __init__(self, workdir: Path) -> None:
        """Prepare a configuration directory under `workdir`."""
        self.workdir = workdir
        self.config = workdir / "config"
        self.log = self.config / "home-assistant.log"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.access_token = ""

    def _prepare_config(self) -> None:
        self.config.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "config" / "configuration.yaml", self.config / "configuration.yaml")
        (self.config / "custom_components").symlink_to(ROOT / "custom_components")
        storage = self.config / ".storage"
        storage.mkdir(exist_ok=True)
        # The core_config step would start integrations that call the internet.
        onboarding = {
            "version": 4,
            "minor_version": 1,
            "key": "onboarding",
            "data": {"done": ["core_config", "analytics", "integration"]},
        }
        (storage / "onboarding").write_text(json.dumps(onboarding))

    def start(self) -> None:
        """Start both processes and create the owner through the onboarding API."""
        self._prepare_config()
        python = str(ROOT / ".venv" / "bin" / "python")
        sim_log = (self.workdir / "simulator.log").open("wb")
        self.processes.append(
            subprocess.Popen(
                [
                    python,
                    "-m",
                    "simulator",
                    "--port",
                    str(SIM_PORT),
                    "--token",
                    TOKEN,
                    "--speed",
                    "1",
                ],
                cwd=ROOT,
                stdout=sim_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        ha_log = (self.workdir / "hass.out").open("wb")
        self.processes.append(
            subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "hass"),
                    "-c",
                    str(self.config),
                    "--skip-pip-packages",
                    SKIPPED_PACKAGES,
                    "--log-no-color",
                ],
                cwd=ROOT,
                stdout=ha_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={
                    **os.environ,
                    "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": str(ROOT / "dev_shims"),
                },
            )
        )
        _wait_for(f"{SIM_URL}/_sim/state", 60)
        _wait_for(f"{HA_URL}/api/onboarding", 240)
        self._onboard()

    def _onboard(self) -> None:
        response = requests.post(
            f"{HA_URL}/api/onboarding/users",
            json={**OWNER, "client_id": CLIENT_ID, "language": "en"},
            timeout=30,
        )
        response.raise_for_status()
        tokens = requests.post(
            f"{HA_URL}/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": response.json()["auth_code"],
                "client_id": CLIENT_ID,
            },
            timeout=30,
        )
        tokens.raise_for_status()
        self.access_token = tokens.json()["access_token"]

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call Home Assistant's REST API as the owner."""
        response = requests.request(
            method,
            f"{HA_URL}{path}",
            headers={"Authorization": f"Bearer {self.access_token}"},
            timeout=30,
            **kwargs,
        )
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        """Stop every process and its children."""
        for process in reversed(self.processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def log_problems(self) -> list[str]:
        """Errors of this integration, tracebacks from it, and any line with the token."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        problems = [line for line in text.splitlines() if TOKEN in line]
        problems += [
            block[:2000]
            for block in text.split("\n20")
            if "sunvec_connect" in block and (" ERROR " in block or "Traceback" in block)
        ]
        return problems


@contextlib.contextmanager
def running_stack(workdir: Path) -> Iterator[Stack]:
    """Start the stack, and stop it whatever happens; print the log when something failed."""
    stack = Stack(workdir)
    try:
        stack.start()
        yield stack
    except BaseException:
        if stack.log.exists():
            sys.stderr.write(stack.log.read_text(errors="replace")[-20000:])
        raise
    finally:
        stack.stop()
