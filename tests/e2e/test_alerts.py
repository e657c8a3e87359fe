"""Alerts as a monitor receives them: `alert_url` pinged healthchecks.io-style (start,
success, fail) on a local HTTP server, `alert_command` run with the event and a
message; an alert that cannot be delivered or hangs never fails nor holds up the
backup, and says so in one line."""

import http.server
import json
import socket
import threading
import time

from tests.support.s3server import free_port

DAY = "2026-03-01"


class Pings(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"] or 0)).decode()
        self.received.append((self.path, body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args):
        pass


def start_server():
    Pings.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pings)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, Pings.received


def alert_script(path, log):
    path.write_text(f'#!/bin/sh\necho "$1|$2|$GLACIER_EVENT|$3" >> "{log}"\n')
    path.chmod(0o755)
    return path


def test_every_backup_pings_its_start_and_outcome(project, tmp_path):
    server, received = start_server()
    log = tmp_path / "alerts.log"
    script = alert_script(tmp_path / "alert me.sh", log)
    url = f"http://127.0.0.1:{server.server_port}/ping/abc"
    project.write_config(f'target_bag_gb = 0.004\nalert_url = "{url}"\n'
                         f"alert_command = \"'{script}' --from-glacier\"")
    try:
        good = project.run("backup", GLACIER_TODAY=DAY)
        assert good.returncode == 0, good.stdout + good.stderr
        assert [p for p, _ in received] == ["/ping/abc/start", "/ping/abc"]
        assert "testhost" in received[0][1] and "ok" in received[1][1]
        lines = log.read_text().splitlines()
        assert [line.split("|")[:3] for line in lines] == [
            ["--from-glacier", "started", "started"],
            ["--from-glacier", "success", "success"]]
        assert lines[1].split("|")[3].startswith("glacier backup on testhost ok")

        received.clear()
        project.config.write_text(project.config.read_text().replace(
            project.server.endpoint, f"http://127.0.0.1:{free_port()}"))
        failed = project.run("backup", GLACIER_TODAY=DAY, GLACIER_S3_ATTEMPTS="1")
        assert failed.returncode != 0
        assert [p for p, _ in received] == ["/ping/abc/start", "/ping/abc/fail"]
        assert "failed" in received[1][1] and "backup: cannot reach S3" in received[1][1]
        assert "_bucket" not in received[1][1]  # named by the command, not the step
        assert log.read_text().splitlines()[-1].split("|")[1] == "failure"
        # the alert says what status says
        now = json.loads(project.glacier("status", "--json", GLACIER_TODAY=DAY).stdout)
        assert now["now"]["ok"] is False
    finally:
        server.shutdown()


def test_an_alert_that_fails_or_hangs_never_fails_nor_holds_the_backup(project, tmp_path):
    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    script = tmp_path / "hang.sh"
    script.write_text("#!/bin/sh\nsleep 300 &\nsleep 300\n")  # a child of its own too
    script.chmod(0o755)
    project.write_config(
        f'target_bag_gb = 0.004\nalert_url = "http://127.0.0.1:{silent.getsockname()[1]}/x"'
        f'\nalert_command = "{script}"')
    began = time.monotonic()
    hung = project.run("backup", GLACIER_TODAY=DAY, GLACIER_ALERT_TIMEOUT="2")
    took = time.monotonic() - began
    silent.close()
    assert hung.returncode == 0, hung.stdout + hung.stderr
    undelivered = [line for line in hung.stderr.splitlines() if "alert not delivered" in line]
    assert len(undelivered) == 4  # url and command, at the start and the end
    assert "no answer within 2 s" in undelivered[0] and "Traceback" not in hung.stderr
    assert took < 60  # four alerts of at most 2 s each, not 4 x 300 s

    refused = tmp_path / "refused.sh"
    refused.write_text("#!/bin/sh\necho 'no route to ntfy' >&2\nexit 7\n")
    refused.chmod(0o755)
    project.write_config(f'target_bag_gb = 0.004\nalert_url = "http://127.0.0.1:'
                         f'{free_port()}/x"\nalert_command = "{refused}"')
    again = project.run("backup", GLACIER_TODAY=DAY)
    assert again.returncode == 0, again.stdout + again.stderr
    lines = [line for line in again.stderr.splitlines() if "alert not delivered" in line]
    assert len(lines) == 4 and "Connection refused" in lines[0]
    assert "exited with status 7: no route to ntfy" in lines[1]


def test_a_wrong_alert_key_is_one_line_naming_it(project):
    project.write_config('alert_url = "hc-ping.com/abc"')
    shown = project.glacier("backup")
    assert shown.returncode == 3 and "settings.alert_url" in shown.stderr
    assert len(shown.stderr.strip().splitlines()) == 1
    project.write_config("alert_command = \"notify 'unclosed\"")
    shown = project.glacier("backup")
    assert shown.returncode == 3 and "settings.alert_command" in shown.stderr
