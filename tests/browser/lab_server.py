"""A JupyterLab server for the browser test: loopback only, a random token, settings of its own.

The server serves a scratch folder (copies of the notebooks, so running them in the browser never
rewrites the stored ones), inherits the small workshop budget and a scratch runs folder, and draws
every cell of a notebook (windowing mode ``none``) so the test can read the whole notebook.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_LIMIT_S = 300.0
"""How long JupyterLab may take to answer; only a server that hangs takes this long."""

NOTEBOOK_SETTINGS = {"windowingMode": "none"}
"""JupyterLab draws only the cells near the view by default; ``none`` draws all of them."""


@dataclass(frozen=True)
class LabServer:
    """A running JupyterLab: its address, token and the folder it serves."""

    url: str
    token: str
    root: Path

    def notebook_url(self, relative: str) -> str:
        """The address that opens ``relative`` (a path under ``root``) in a fresh workspace."""
        return f"{self.url}/lab/tree/{relative}?reset&token={self.token}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_settings(folder: Path) -> None:
    """User settings for the test's JupyterLab: draw every cell, no news or update checks."""
    tracker = folder / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text(json.dumps(NOTEBOOK_SETTINGS))
    news = folder / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text(json.dumps({"checkForUpdates": False, "fetchNews": "false"}))


@contextmanager
def running_lab(root: Path, scratch: Path, env: dict[str, str]) -> Iterator[LabServer]:
    """Start JupyterLab on 127.0.0.1 serving ``root``; stop it (and its kernels) on exit.

    ``scratch`` holds the server's settings, workspaces and log; ``env`` is added to the
    environment of the server and so of every kernel it starts.
    """
    settings = scratch / "lab-settings"
    write_settings(settings)
    port, token = free_port(), secrets.token_hex(16)
    server_env = {
        **os.environ,
        **env,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "lab-workspaces"),
        "JUPYTER_CONFIG_DIR": str(scratch / "jupyter-config"),
    }
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=", "--ServerApp.terminals_enabled=False",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log_path = scratch / "jupyterlab.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=root, env=server_env, stdout=log, stderr=subprocess.STDOUT
        )
        server = LabServer(f"http://127.0.0.1:{port}", token, root)
        try:
            wait_until_answering(server, process, log_path)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_answering(server: LabServer, process: subprocess.Popen, log: Path) -> None:
    """Poll the server's status API until it answers; fail naming it and its log otherwise."""
    deadline = time.monotonic() + START_LIMIT_S
    status = f"{server.url}/api/status?token={server.token}"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with code {process.returncode} before answering; "
                f"its log:\n{log.read_text(errors='replace')[-3000:]}"
            )
        try:
            with urllib.request.urlopen(status, timeout=10) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(
        f"JupyterLab at {server.url} did not answer {status.split('?')[0]} within "
        f"{START_LIMIT_S:.0f} s; its log:\n{log.read_text(errors='replace')[-3000:]}"
    )


def shut_down_kernels(server: LabServer) -> None:
    """Shut down every kernel of ``server`` (a notebook's kernel ends with its test)."""
    headers = {"Authorization": f"token {server.token}"}
    request = urllib.request.Request(f"{server.url}/api/kernels", headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        kernels = json.load(response)
    for kernel in kernels:
        delete = urllib.request.Request(
            f"{server.url}/api/kernels/{kernel['id']}", headers=headers, method="DELETE"
        )
        with urllib.request.urlopen(delete, timeout=60):
            pass
