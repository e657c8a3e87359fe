"""Shared fixtures: a real S3 server (tests/support/s3server.py: moto, or LocalStack with
S3_SERVER=localstack) and a fresh bucket.

Two marks choose tests by server, deselected (not skipped) on the other one unless `-m`
is given: `strict_s3`, what only a server that refuses as AWS does can show (moto
accepts a wrong checksum or a delete of a locked object); `moto_only`, what needs a
feature of moto's that LocalStack lacks (the reason is in the mark)."""

import uuid

import pytest

# CREDENTIALS and free_port stay importable from here for older imports
from tests.support.s3server import CREDENTIALS, S3Server, free_port, server_kind  # noqa: F401


def pytest_configure(config):
    config.addinivalue_line("markers", "strict_s3: needs a server that refuses as AWS "
                                       "does (LocalStack); deselected on moto")
    config.addinivalue_line("markers", "moto_only(reason): needs moto; deselected on "
                                       "LocalStack")


def pytest_collection_modifyitems(config, items):
    if config.getoption("markexpr"):
        return  # the caller chose by mark, e.g. -m strict_s3 to see them fail on moto
    other = "moto_only" if server_kind() == "localstack" else "strict_s3"
    keep = [item for item in items if not item.get_closest_marker(other)]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = S3Server(tmp_path_factory.mktemp("s3"))
    yield server
    server.stop()


@pytest.fixture
def bucket(s3_server):
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return name
