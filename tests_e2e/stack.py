"""A real Home Assistant and the simulator as processes, for the end-to-end suite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
from datetime import UTC, datetime
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
import websocket

from .logs import log_problems

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.prefix) / "bin"
"""The virtual environment running the suite runs the stack too (scripts/e2e picks it)."""
SUPPORT = Path(__file__).resolve().parent / "support"
COMPONENT = ROOT / "custom_components" / "sunvec_connect"
BLUEPRINT = ROOT / "blueprints" / "automation" / "sunvec_connect" / "inverter_fault.yaml"
HA_URL = "http://127.0.0.1:8123"
SIM_PORT = 8199
SIM_URL = f"http://127.0.0.1:{SIM_PORT}"
TOKEN = "e2e-token-3c5b7a9d"
OWNER = {"name": "E2E Owner", "username": "owner", "password": "e2e-password-1234"}
CLIENT_ID = f"{HA_URL}/"
SKIPPED_PACKAGES = "pymicro-vad,pyspeex-noise"
"""No Python 3.14 wheel here and they cannot be built (the assist pipeline needs them)."""
UPLOAD_INTERVAL = 30
"""Seconds between the simulated inverter's uploads: the real 300 s, ten times faster.

Home Assistant runs on the wall clock, so the simulator cannot run ahead of it (the
integration rightly refuses uploads stamped in the future); time is compressed by
uploading more often instead.
"""
PUBLISH_DELAY = ("2", "4")
MACHINE_GAPS = (
    "[haffmpeg.core] FFmpeg fails",
    "[homeassistant.components.camera.img_util] Error loading libturbojpeg",
)
"""Errors with tracebacks of parts of Home Assistant this machine lacks (the ffmpeg
binary, libturbojpeg): Home Assistant sets those integrations up without being asked."""

CONFIGURATION = """\
# Throwaway instance of the end-to-end suite (tests_e2e/stack.py).
homeassistant:
  name: Sunvec end-to-end
  time_zone: {time_zone}
  unit_system: metric
  country: NL
  currency: EUR

frontend:
config:
energy:
history:
logbook:
recorder:
  commit_interval: 1
repairs:
diagnostics:
automation: !include automations.yaml
e2e_statistics:

logger:
  default: info
  logs:
    custom_components.sunvec_connect: debug
"""


def midday_time_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon now.

    The instance and the simulated plant share it, so the plant produces and its
    counters rise whatever the hour of the run, and no midnight resets the daily yield.
    """
    offset = round(12 - (now.hour + now.minute / 60))
    if offset == 0:
        return "Etc/UTC"
    # POSIX sign convention: Etc/GMT-2 is two hours ahead of UTC.
    return f"Etc/GMT{-offset:+d}"


def wait_until[T](
    what: str, probe: Callable[[], T | None], seconds: float, interval: float = 1.0
) -> T:
    """Call `probe` until it returns something other than None."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(requests.RequestException):
            if (result := probe()) is not None:
                return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {seconds:.0f} s")
        time.sleep(interval)


def _answers(url: str) -> bool | None:
    return True if requests.get(url, timeout=2).status_code < 500 else None


class Stack:
    """The simulator and a throwaway Home Assistant, started and stopped together."""

    def __init__(self, workdir: Path, component: Path = COMPONENT) -> None:
        """Prepare a configuration directory under `workdir`, with `component`'s code."""
        self.workdir = workdir
        self.component = component
        self.secrets = [TOKEN]
        """Texts that must never reach the log (the tokens used)."""
        self.expected_errors: list[str] = []
        """Texts of error entries a step caused on purpose (a revoked token)."""
        self.config = workdir / "config"
        self.log = self.config / "home-assistant.log"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.access_token = ""
        self.time_zone = midday_time_zone(datetime.now(UTC))

    def _prepare_config(self) -> None:
        self.config.mkdir(parents=True, exist_ok=True)
        (self.config / "configuration.yaml").write_text(
            CONFIGURATION.format(time_zone=self.time_zone)
        )
        components = self.config / "custom_components"
        components.mkdir()
        (components / "sunvec_connect").symlink_to(self.component)
        (components / "e2e_statistics").symlink_to(SUPPORT / "e2e_statistics")
        # As a user who copied the blueprint, ready to create automations from it.
        blueprints = self.config / "blueprints" / "automation" / "sunvec_connect"
        blueprints.mkdir(parents=True)
        shutil.copy(BLUEPRINT, blueprints / BLUEPRINT.name)
        (self.config / "automations.yaml").write_text("[]\n")
        storage = self.config / ".storage"
        storage.mkdir()
        # The core_config step would start integrations that call the internet.
        onboarding = {
            "version": 4,
            "minor_version": 1,
            "key": "onboarding",
            "data": {"done": ["core_config", "analytics", "integration"]},
        }
        (storage / "onboarding").write_text(json.dumps(onboarding))

    def _spawn(self, command: list[str], log_name: str, env: dict[str, str]) -> None:
        log = (self.workdir / log_name).open("wb")
        self.processes.append(
            subprocess.Popen(
                command,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **env},
            )
        )

    def start(self) -> None:
        """Start both processes and create the owner through the onboarding API."""
        self._prepare_config()
        self._spawn(
            [
                str(BIN / "python"),
                "-m",
                "simulator",
                f"--port={SIM_PORT}",
                f"--token={TOKEN}",
                f"--timezone={self.time_zone}",
                f"--upload-interval={UPLOAD_INTERVAL}",
                "--publish-delay",
                *PUBLISH_DELAY,
            ],
            "simulator.log",
            {},
        )
        self._start_home_assistant()
        wait_until("simulator", lambda: _answers(f"{SIM_URL}/_sim/state"), 60, 0.5)
        self._onboard()

    def _start_home_assistant(self) -> None:
        self._spawn(
            [
                str(BIN / "hass"),
                "-c",
                str(self.config),
                "--skip-pip-packages",
                SKIPPED_PACKAGES,
                "--log-no-color",
            ],
            "hass.out",
            {"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT / "dev_shims")},
        )
        wait_until("Home Assistant", lambda: _answers(f"{HA_URL}/api/onboarding"), 240, 0.5)

    def restart_with(self, component: Path) -> None:
        """Stop Home Assistant (it writes its storage), and start it with `component`'s code.

        The owner's access token stays valid: it is signed with a key kept in storage.
        """
        process = self.processes.pop()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=120)
        link = self.config / "custom_components" / "sunvec_connect"
        link.unlink()
        link.symlink_to(component)
        self.component = component
        self._start_home_assistant()
        wait_until(
            "Home Assistant running",
            lambda: True if self.api("GET", "/api/config")["state"] == "RUNNING" else None,
            240,
            1,
        )

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

    def ws(self, message: dict[str, object]) -> Any:
        """One websocket command as the owner, on a connection of its own.

        A connection per command: Home Assistant drops clients that leave its
        pings unanswered while the suite waits.
        """
        connection = websocket.create_connection(
            HA_URL.replace("http", "ws") + "/api/websocket", timeout=60
        )
        with contextlib.closing(connection):
            assert json.loads(connection.recv())["type"] == "auth_required"
            connection.send(json.dumps({"type": "auth", "access_token": self.access_token}))
            assert json.loads(connection.recv())["type"] == "auth_ok"
            connection.send(json.dumps({"id": 1, **message}))
            answer = json.loads(connection.recv())
            assert answer["success"], answer
            return answer["result"]

    def simulator(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the simulator's control API."""
        response = requests.request(method, f"{SIM_URL}/_sim{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        """Stop every process, then anything its process group left behind."""
        for process in reversed(self.processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=60)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def log_text(self) -> str:
        """Home Assistant's log so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_problems(self) -> list[str]:
        """Log lines with a token, tracebacks, setup failures and the integration's errors."""
        text = self.log_text()
        others = self.secrets[1:]
        problems = [line for line in text.splitlines() if any(s in line for s in others)]
        return problems + log_problems(text, TOKEN, (*MACHINE_GAPS, *self.expected_errors))


@contextlib.contextmanager
def running_stack(workdir: Path, component: Path = COMPONENT) -> Iterator[Stack]:
    """Start the stack, and stop it whatever happens; print the log when something failed."""
    stack = Stack(workdir, component)
    try:
        stack.start()
        yield stack
    except BaseException:
        sys.stderr.write(f"\n==== Home Assistant log ({stack.log}) ====\n")
        sys.stderr.write(stack.log_text()[-30000:])
        raise
    finally:
        stack.stop()
