"""A real S3 server in its own process on a free loopback port: moto, or with
`S3_SERVER=localstack` LocalStack's S3, which refuses what AWS refuses (a wrong
checksum, a delete of a locked object, a past retention date) where moto accepts it.

LocalStack needs Python 3.13+ and runs from its own venv (Makefile's
`.venv-localstack`, or $LOCALSTACK_PYTHON) through tests/support/localstack_launcher.py.

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


KINDS = ("moto", "localstack")
ACCESS_LINE = re.compile(r"[A-Z]+ \S+ HTTP/")
REPO = Path(__file__).resolve().parents[1]
LAUNCHER = Path(__file__).resolve().with_name("localstack_launcher.py")


def server_kind() -> str:
    """S3_SERVER, moto by default; anything else is a mistake said in one line."""
    kind = os.environ.get("S3_SERVER") or "moto"
    if kind not in KINDS:
        raise SystemExit(f"S3_SERVER={kind!r}: must be one of {', '.join(KINDS)}")
    return kind


def localstack_python() -> str:
    python = os.environ.get("LOCALSTACK_PYTHON") or str(REPO / ".venv-localstack/bin/python")
    if not Path(python).exists():
        raise SystemExit(f"S3_SERVER=localstack: {python} not found; run "
                         "'make .venv-localstack' (needs Python 3.13+)")
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    def __init__(self, tmp: Path, extra_env: dict | None = None, kind: str | None = None):
        self.kind = kind or server_kind()
        self.certificate = None  # moto speaks plain HTTP only
        # a free port is free only until someone binds it: a parallel test worker may
        # take the same one first, so a server that lost the race starts again elsewhere
        for _ in range(5):
            if self._start(tmp, extra_env or {}):
                return
        raise RuntimeError(f"{self.kind} server found no free port: {self.log.read_text()}")

    def _start(self, tmp: Path, extra_env: dict) -> bool:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"{self.kind}-{self.port}.log"
        self._log_file = open(self.log, "wb")
        if self.kind == "moto":
            command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                       str(self.port)]
        else:  # its files stay in this server's own folder, its own certificate too
            command = [localstack_python(), str(LAUNCHER), str(self.port)]
            folder = tmp / f"localstack-{self.port}"
            folder.mkdir(parents=True, exist_ok=True)
            self.certificate = folder / "server.pem.crt"
            extra_env = {"FILESYSTEM_ROOT": str(folder),
                         "CUSTOM_SSL_CERT_PATH": str(folder / "server.pem"), **extra_env}
        self.proc = subprocess.Popen(
            command, stdout=self._log_file, stderr=subprocess.STDOUT,
            env={**os.environ, **CREDENTIALS, **extra_env}, start_new_session=True)
        # werkzeug (and the launcher) says "Running on" once it holds the port: only
        # then is the server answering there ours, not another worker's
        ours = f"Running on {self.endpoint}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log_file.close()
                if "in use" in self.log.read_text(errors="replace"):
                    return False
                raise RuntimeError(f"{self.kind} server exited: {self.log.read_text()}")
            said = self.log.read_text(errors="replace")
            if "in use" in said:  # LocalStack says so and lives on, port-less
                self.stop()
                return False
            if ours in said:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return True
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind} server did not start within 60 s: "
                           f"{self.log.read_text(errors='replace')[-2000:]}")

    @property
    def https_endpoint(self) -> str:
        """LocalStack answers HTTPS on the same port, with a self-signed certificate
        (self.certificate, for AWS_CA_BUNDLE) naming localhost, not 127.0.0.1."""
        return f"https://localhost:{self.port}"

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def requests(self) -> list[str]:
        """The request lines the server logged so far, e.g. 'PUT /bucket/key?...'."""
        return [request for request, _ in self.answered()]

    def answered(self) -> list[tuple[str, int]]:
        """(request line, status) of each request the server logged so far."""
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            if '"' in line:  # werkzeug colours some lines (206, 4xx): drop the escapes
                plain = re.sub(r"\x1b\[[0-9;]*m", "", line)
                request, _, after = plain.partition('"')[2].partition('"')
                if ACCESS_LINE.match(request):  # not LocalStack's other quoted words
                    status = after.split()[0] if after.split() else ""
                    found.append((request, int(status) if status.isdigit() else 0))
        return found

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log_file.close()
