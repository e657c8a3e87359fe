"""A loopback HTTP proxy whose uplink is slow: request bodies reach the S3 server at
`rate` bytes per second in all, shared by every connection, as on a real uplink where
the line, not the machine, is the bottleneck. Answers come back unthrottled.

Plain code, no pytest: the end-to-end tests and bench/run.py both use it. It counts
the body bytes it forwarded.
"""

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "expect", "proxy-connection"}
CHUNK = 64 << 10


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a cut line, a client gone: nothing to print


class ThrottleProxy:
    def __init__(self, upstream_port: int, rate: float):
        self.upstream_port, self.rate = upstream_port, float(rate)
        self.lock = threading.Lock()
        self.free_at = 0.0  # when the line is free for the next chunk
        self.forwarded = 0
        self.down = False  # cut(): as if the network went
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_any(self):
                if proxy.down:  # the line is cut: the connection dies, nothing answers
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                upstream = proxy.connect(self)
                upstream.putrequest(self.command, self.path, skip_host=True,
                                    skip_accept_encoding=True)
                for key, value in self.headers.items():
                    if key.lower() not in HOP_BY_HOP:
                        upstream.putheader(key, value)
                body = self.body()
                if body is not None and "content-length" not in \
                        (k.lower() for k in self.headers):
                    upstream.putheader("Content-Length", str(len(body)))
                upstream.endheaders()
                if body is not None:
                    proxy.send(upstream, body)
                else:
                    proxy.stream(upstream, self.rfile,
                                 int(self.headers.get("Content-Length") or 0))
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", answer.getheader("Content-Length")
                                 or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def body(self):
                """A chunked request body, whole (small); None for a Content-Length one,
                which is streamed."""
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    return None
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_any

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def connect(self, handler):
        """One upstream connection per client connection, kept alive like it."""
        conn = getattr(handler, "_upstream", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=300)
            handler._upstream = conn
        return conn

    def cut(self) -> None:
        """The network goes: every request from now on, and every body under way, dies."""
        self.down = True

    def take(self, nbytes: int) -> None:
        """Wait for the line: each chunk has its slot, one after another."""
        if self.down:
            raise ConnectionResetError("the line was cut")
        with self.lock:
            now = time.monotonic()
            start = max(self.free_at, now)
            self.free_at = start + nbytes / self.rate
            self.forwarded += nbytes
        if start > now:
            time.sleep(start - now)

    def stream(self, upstream, rfile, length: int) -> None:
        while length > 0:
            chunk = rfile.read(min(CHUNK, length))
            if not chunk:  # the client went away mid-body: so does this request
                upstream.close()
                raise ConnectionResetError("the client went away")
            self.take(len(chunk))
            upstream.send(chunk)
            length -= len(chunk)

    def send(self, upstream, body: bytes) -> None:
        for start in range(0, len(body), CHUNK):
            chunk = body[start:start + CHUNK]
            self.take(len(chunk))
            upstream.send(chunk)

    def stop(self):
        self.server.shutdown()
