"""A fault-injecting HTTP proxy on loopback, between the tool and the S3 server.

At a seeded rate it answers 500 InternalError, 503 SlowDown or 400 RequestTimeout,
resets the connection in the middle of a body, or stalls past the client's timeout;
everything else is forwarded as it is. It counts what it injected, and keeps each
forwarded request's method, path and headers (at rate 0 it is a plain recorder).
"""

import http.client
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
FAULTS = ("500", "503", "timeout", "reset-request", "reset-response", "stall")
ERROR_BODY = {"500": (500, "InternalError", "We encountered an internal error."),
              "503": (503, "SlowDown", "Please reduce your request rate."),
              "timeout": (400, "RequestTimeout", "Your socket connection to the server "
                                                 "was not read from or written to.")}


class FaultProxy:
    def __init__(self, upstream_port: int, rate: float, seed: int, stall_seconds=3.0):
        self.upstream_port, self.rate = upstream_port, rate
        self.stall_seconds = stall_seconds
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.injected = {f: 0 for f in FAULTS}
        self.forwarded = 0
        self.seen = []  # (method, path, {header: value}) of each forwarded request
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_any(self):
                fault = proxy.draw()
                body = self.read_body(cut=fault == "reset-request")
                if fault == "reset-request":
                    self.close_now()
                    return
                if fault in ERROR_BODY:
                    self.send_error_xml(*ERROR_BODY[fault])
                    return
                if fault == "stall":
                    time.sleep(proxy.stall_seconds)
                    self.close_now()
                    return
                status, headers, data = proxy.forward(self, body)
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", dict(
                    (k.lower(), v) for k, v in headers).get("content-length", str(len(data))))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if fault == "reset-response" and len(data) > 1:
                    self.wfile.write(data[:len(data) // 2])
                    self.close_now()
                    return
                self.wfile.write(data)

            def read_body(self, cut=False):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    parts = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b""):
                                pass
                            break
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                        if cut:
                            return None
                    return b"".join(parts)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length // 2 if cut else length) if length else None

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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def draw(self):
        with self.lock:
            if self.random.random() >= self.rate:
                self.forwarded += 1
                return None
            fault = self.random.choice(FAULTS)
            self.injected[fault] += 1
            return fault

    def forward(self, handler, body):
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=120)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        with self.lock:
            self.seen.append((handler.command, handler.path,
                              {k.lower(): v for k, v in headers.items()}))
        if body is not None:
            headers["Content-Length"] = str(len(body))
        upstream.request(handler.command, handler.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        result = answer.status, answer.getheaders(), data
        upstream.close()
        return result

    def stop(self):
        self.server.shutdown()
