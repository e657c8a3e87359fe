"""A small HTTP proxy on loopback, in front of the S3 server, that makes a thaw slow:
for its first `slow_checks` HEADs of a bag (of the bags whose key holds `only`, if
given), it answers ongoing-request="true". It counts the body bytes it passes on per
request path (`sent`), so a test can tell how much of a bag was downloaded."""

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}


class ThawProxy:
    def __init__(self, upstream_port: int, slow_checks: int = 3, only: str = ""):
        self.upstream_port, self.slow_checks, self.only = upstream_port, slow_checks, only
        self.checks, self.sent = {}, {}
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port,
                                                      timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                out = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP]
                out = proxy.rewrite(self.command, self.path, out)
                self.send_response(answer.status)
                for key, value in out:
                    if key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", answer.getheader("Content-Length")
                                 or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                    with lock:
                        key = (self.command, self.path.split("?")[0])
                        proxy.sent[key] = proxy.sent.get(key, 0) + len(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def rewrite(self, method, path, headers):
        restore = [v for k, v in headers if k.lower() == "x-amz-restore"]
        if method != "HEAD" or not path.split("?")[0].endswith(".tar") or not restore \
                or self.only not in path:
            return headers
        seen = self.checks[path] = self.checks.get(path, 0) + 1
        if seen > self.slow_checks:
            return headers
        return [(k, 'ongoing-request="true"' if k.lower() == "x-amz-restore" else v)
                for k, v in headers]

    def stop(self):
        self.server.shutdown()
