"""tests/support/s3server.py under parallel test workers: a free port is free only until another
worker binds it, and a server must never take another one's for its own."""

import socket

from tests.support import s3server


def test_a_server_whose_port_was_taken_starts_on_another(tmp_path, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()  # answers a connect, as another worker's server would
        port = taken.getsockname()[1]
        draws, real = iter([port]), s3server.free_port
        monkeypatch.setattr(s3server, "free_port", lambda: next(draws, None) or real())
        server = s3server.S3Server(tmp_path)
        try:
            assert server.port != port
            server.client().create_bucket(Bucket="taken-port-test")
            assert "PUT /taken-port-test HTTP/1.1" in server.requests()
        finally:
            server.stop()
