"""One HTTP proxy on loopback, between the tool and the S3 server, that plays the
network and the archive's moods a test asks for, alone or together:

- a slow uplink (`rate`, bytes per second shared by every connection, as on a real line
  where the line, not the machine, is the bottleneck; answers come back unthrottled),
  and `cut()`, the network going;
- faults at a seeded rate (`faults`): 500 InternalError, 503 SlowDown, 400
  RequestTimeout, a connection reset mid-request or mid-answer, a stall past the
  client's timeout;
- a slow thaw (`slow_checks`): a bag's first N HEADs (of the keys holding `only`) say
  ongoing-request="true";
- one request changed on its way (`tamper(method, path, headers, body)` returns the
  headers to set and the body, or None to pass it on): a bad cable, a meddling box.

It records what passed: each forwarded request (`seen`: method, path, headers), the
request body bytes forwarded (`uploaded`), the answer bytes per (method, path) (`sent`),
the faults injected (`injected`), the requests forwarded untouched (`forwarded`) and
the one tampered with (`tampered`).
With no option it is a plain recorder.
"""

import http.client
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "expect", "proxy-connection", "proxy-authorization", "proxy-authenticate"}
CHUNK = 64 << 10
FAULTS = ("500", "503", "timeout", "reset-request", "reset-response", "stall")
ERROR_BODY = {"500": (500, "InternalError", "We encountered an internal error."),
              "503": (503, "SlowDown", "Please reduce your request rate."),
              "timeout": (400, "RequestTimeout", "Your socket connection to the server "
                                                 "was not read from or written to.")}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a cut line, a client gone: nothing to print


class LoopbackProxy:
    def __init__(self, upstream_port: int, *, rate: float | None = None,
                 faults: float = 0.0, seed: int = 0, stall_seconds: float = 3.0,
                 slow_checks: int = 0, only: str = "", tamper=None):
        self.upstream_port, self.rate = upstream_port, rate
        self.faults, self.random, self.stall_seconds = faults, random.Random(seed), stall_seconds
        self.slow_checks, self.only = slow_checks, only
        self.tamper, self.tampered = tamper, []
        self.lock = threading.Lock()
        self.free_at = 0.0  # when the uplink is free for the next chunk
        self.down = False
        self.uploaded, self.forwarded = 0, 0
        self.injected = {f: 0 for f in FAULTS}
        self.seen, self.checks, self.sent = [], {}, {}
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def cut(self) -> None:
        """The network goes: every request from now on, and every body under way, dies."""
        self.down = True

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def draw(self) -> str | None:
        with self.lock:
            if self.faults <= 0 or self.random.random() >= self.faults:
                self.forwarded += 1
                return None
            fault = self.random.choice(FAULTS)
            self.injected[fault] += 1
            return fault

    def take(self, nbytes: int) -> None:
        """Wait for the uplink: each chunk has its slot, one after another."""
        if self.down:
            raise ConnectionResetError("the line was cut")
        with self.lock:
            now = time.monotonic()
            start = max(self.free_at, now) if self.rate else now
            self.free_at = start + (nbytes / self.rate if self.rate else 0)
            self.uploaded += nbytes
        if start > now:
            time.sleep(start - now)

    def rewrite(self, method: str, path: str, headers: list) -> list:
        """A thaw still under way for the bag's first slow_checks HEADs."""
        restore = [v for k, v in headers if k.lower() == "x-amz-restore"]
        if not self.slow_checks or method != "HEAD" or not restore or \
                not path.split("?")[0].endswith(".tar") or self.only not in path:
            return headers
        with self.lock:
            seen = self.checks[path] = self.checks.get(path, 0) + 1
        if seen > self.slow_checks:
            return headers
        return [(k, 'ongoing-request="true"' if k.lower() == "x-amz-restore" else v)
                for k, v in headers]

    def tampering(self, method: str, path: str, headers: list, body: bytes):
        """(headers, body) as they go upstream: the first request `tamper` picks
        changed, every other as it came."""
        lower = {k.lower(): v for k, v in headers}
        with self.lock:
            changed = None if self.tampered else self.tamper(method, path, lower, body)
            if changed:
                self.tampered.append(f"{method} {path}")
        if not changed:
            return headers, body
        changes, body = changed
        names = {k.lower() for k in changes}
        return [(k, v) for k, v in headers if k.lower() not in names] + \
            list(changes.items()), body

    def before_forward(self, method: str, path: str) -> None:
        """A test's hook: called before each request goes upstream (hold it, slow it)."""

    def count_sent(self, method: str, path: str, nbytes: int) -> None:
        with self.lock:
            key = (method, path.split("?")[0])
            self.sent[key] = self.sent.get(key, 0) + nbytes


def _handler(proxy: LoopbackProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_any(self):
            if proxy.down:  # the line is cut: the connection dies, nothing answers
                self.close_now()
                return
            fault = proxy.draw()
            if fault == "reset-request":
                self.read_chunked(cut=True) if self.chunked() else \
                    self.rfile.read(self.length() // 2)
                self.close_now()
                return
            if fault in ERROR_BODY or fault == "stall":
                self.read_chunked() if self.chunked() else self.rfile.read(self.length())
                if fault == "stall":
                    time.sleep(proxy.stall_seconds)
                    self.close_now()
                else:
                    self.send_error_xml(*ERROR_BODY[fault])
                return
            proxy.before_forward(self.command, self.path)
            answer = self.forward()
            data = answer.read()
            headers = proxy.rewrite(self.command, self.path, answer.getheaders())
            self.send_response(answer.status)
            for key, value in headers:
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length",
                             answer.getheader("Content-Length") or str(len(data)))
            self.end_headers()
            if self.command == "HEAD":
                return
            if fault == "reset-response" and len(data) > 1:
                self.wfile.write(data[:len(data) // 2])
                self.close_now()
                return
            self.wfile.write(data)
            proxy.count_sent(self.command, self.path, len(data))

        def forward(self):
            """The request upstream, its body at the uplink's pace; one upstream
            connection per client connection, kept alive like it."""
            upstream = getattr(self, "_upstream", None)
            if upstream is None:
                upstream = self._upstream = http.client.HTTPConnection(
                    "127.0.0.1", proxy.upstream_port, timeout=300)
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
            body = self.read_chunked() if self.chunked() else None
            if proxy.tamper is not None:  # the body whole, to change it
                if body is None:
                    body = self.rfile.read(self.length())
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers, body = proxy.tampering(self.command, self.path, headers, body)
            with proxy.lock:
                proxy.seen.append((self.command, self.path,
                                   {k.lower(): v for k, v in headers}))
            upstream.putrequest(self.command, self.path, skip_host=True,
                                skip_accept_encoding=True)
            for key, value in headers:
                upstream.putheader(key, value)
            if body is not None:
                upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders()
            if body is not None:
                for start in range(0, len(body), CHUNK):
                    proxy.take(len(body[start:start + CHUNK]))
                    upstream.send(body[start:start + CHUNK])
            else:
                self.stream(upstream, self.length())
            return upstream.getresponse()

        def stream(self, upstream, length: int) -> None:
            while length > 0:
                chunk = self.rfile.read(min(CHUNK, length))
                if not chunk:  # the client went away mid-body: so does this request
                    upstream.close()
                    raise ConnectionResetError("the client went away")
                proxy.take(len(chunk))
                upstream.send(chunk)
                length -= len(chunk)

        def chunked(self) -> bool:
            return self.headers.get("Transfer-Encoding", "").lower() == "chunked"

        def length(self) -> int:
            return int(self.headers.get("Content-Length") or 0)

        def read_chunked(self, cut: bool = False) -> bytes | None:
            """A chunked request body, whole (small); with cut, its first chunk only."""
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
                if cut:
                    return None

        def send_error_xml(self, status, code, message):
            xml = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                   f"<Message>{message}</Message></Error>").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(xml)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(xml)

        def close_now(self):
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_any

        def log_message(self, *args):
            pass

    return Handler
