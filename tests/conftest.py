"""Shared fixtures: a real moto S3 server (tests/s3server.py) and a fresh bucket."""

import uuid

import pytest

# CREDENTIALS and free_port stay importable from here for older imports
from tests.s3server import CREDENTIALS, S3Server, free_port  # noqa: F401


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = S3Server(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture
def bucket(s3_server):
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return name
