"""report/alert.py: which URL each event pings, and what a command receives; the
function a restore calls later ("restore-readable", "restore-finished") included."""

import http.server
import threading
from types import SimpleNamespace

from glacier_tasks.report import alert


class Recorder(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):
        length = int(self.headers["Content-Length"] or 0)
        self.seen.append((self.path, self.headers["X-Glacier-Event"],
                          self.rfile.read(length).decode()))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_each_event_pings_its_healthchecks_path_and_runs_the_command(tmp_path):
    Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log = tmp_path / "log"
    script = tmp_path / "a.sh"
    script.write_text(f'#!/bin/sh\necho "$1 $2" >> "{log}"\n')
    script.chmod(0o755)
    settings = SimpleNamespace(alert_url=f"http://127.0.0.1:{server.server_port}/hc/",
                               alert_command=str(script))
    try:
        for event in ("started", "success", "failure", "restore-readable"):
            assert alert.send_alert(settings, event, f"{event} é") is True
    finally:
        server.shutdown()
    assert [path for path, _, _ in Recorder.seen] == ["/hc/start", "/hc", "/hc/fail",
                                                      "/hc/log"]
    assert Recorder.seen[3][1:] == ("restore-readable", "restore-readable é")
    assert log.read_text().splitlines()[-1] == "restore-readable restore-readable é"


def test_nothing_configured_sends_nothing():
    assert alert.send_alert(SimpleNamespace(alert_url=None, alert_command=None),
                            "success", "ok") is True
