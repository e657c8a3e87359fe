"""The end-to-end suite's usual project: the sample tree as one molecule, one bucket."""

import pytest

from .helpers import sample_project


@pytest.fixture
def project(tmp_path, s3_server, bucket):
    return sample_project(tmp_path, s3_server, bucket)
