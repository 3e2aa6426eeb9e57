"""A real Synapse homeserver on 127.0.0.1 for the Matrix tests (see ../shared/testing-recipes.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SECRET = "wijkbot-test-registration-secret"
RELAXED = {"per_second": 1000, "burst_count": 1000}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Synapse:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def write_config(self) -> Path:
        import yaml

        folder = self.folder
        (folder / "media").mkdir(parents=True, exist_ok=True)
        (folder / "log.yaml").write_text(
            yaml.safe_dump(
                {
                    "version": 1,
                    "formatters": {"p": {"format": "%(levelname)s %(name)s %(message)s"}},
                    "handlers": {
                        "f": {
                            "class": "logging.FileHandler",
                            "formatter": "p",
                            "filename": str(folder / "homeserver.log"),
                        }
                    },
                    "root": {"level": "WARNING", "handlers": ["f"]},
                    "disable_existing_loggers": False,
                }
            )
        )
        config = {
            "server_name": "localhost",
            "pid_file": str(folder / "homeserver.pid"),
            "report_stats": False,
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(folder / "homeserver.db")}},
            "media_store_path": str(folder / "media"),
            "signing_key_path": str(folder / "signing.key"),
            "log_config": str(folder / "log.yaml"),
            "enable_registration": False,
            "registration_shared_secret": SECRET,
            "macaroon_secret_key": "m" * 32,
            "form_secret": "f" * 32,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "presence": {"enabled": False},
            "bcrypt_rounds": 4,
            "rc_message": RELAXED,
            "rc_registration": RELAXED,
            "rc_login": {"address": RELAXED, "account": RELAXED, "failed_attempts": RELAXED},
            "rc_joins": {"local": RELAXED, "remote": RELAXED},
            "rc_joins_per_room": RELAXED,
            "rc_invites": {"per_room": RELAXED, "per_user": RELAXED, "per_issuer": RELAXED},
            "rc_room_creation": RELAXED,
        }
        path = folder / "homeserver.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def start(self) -> Synapse:
        config = self.write_config()
        with open(self.folder / "stderr.log", "wb") as errors:  # the child keeps its own handle
            self.process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env={**os.environ, "SYNAPSE_ASYNC_IO_REACTOR": "0"},
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("synapse exited: " + (self.folder / "stderr.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("synapse did not become healthy in 60 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def register(self, user: str, password: str) -> str:
        """Register a user with the shared secret (admin API); returns the full user id."""
        endpoint = self.url + "/_synapse/admin/v1/register"
        with urllib.request.urlopen(endpoint) as r:
            nonce = json.loads(r.read())["nonce"]
        mac = hmac.new(SECRET.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(), b"notadmin"]))
        body = json.dumps(
            {"nonce": nonce, "username": user, "password": password, "admin": False, "mac": mac.hexdigest()}
        ).encode()
        request = urllib.request.Request(endpoint, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as r:
            return json.loads(r.read())["user_id"]
