"""A real moto S3 server in its own process on a free loopback port.

Plain code, no pytest: tests/conftest.py wraps it in fixtures, and bench/run.py starts
one the same way without importing the test suite's conftest.
"""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    def __init__(self, tmp: Path, extra_env: dict | None = None):
        # a free port is free only until someone binds it: a parallel test worker may
        # take the same one first, so a server that lost the race starts again elsewhere
        for _ in range(5):
            if self._start(tmp, extra_env or {}):
                return
        raise RuntimeError(f"moto server found no free port: {self.log.read_text()}")

    def _start(self, tmp: Path, extra_env: dict) -> bool:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"moto-{self.port}.log"
        self._log_file = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log_file, stderr=subprocess.STDOUT, env={**os.environ, **CREDENTIALS, **extra_env})
        # werkzeug says "Running on" once it holds the port: only then is the server
        # answering there ours, not another worker's
        ours = f"Running on {self.endpoint}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log_file.close()
                if "in use" in self.log.read_text(errors="replace"):
                    return False
                raise RuntimeError(f"moto server exited: {self.log.read_text()}")
            if ours in self.log.read_text(errors="replace"):
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return True
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError("moto server did not start within 30 s")

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def requests(self) -> list[str]:
        """The request lines the server logged so far, e.g. 'PUT /bucket/key?...'."""
        lines = []
        for line in self.log.read_text(errors="replace").splitlines():
            if '"' in line:  # werkzeug colours some lines (206, 4xx): drop the escapes
                lines.append(re.sub(r"\x1b\[[0-9;]*m", "", line.split('"')[1]))
        return lines

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log_file.close()
