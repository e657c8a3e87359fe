"""The end-to-end suite's usual project: the sample tree as one molecule, one bucket."""

import pytest

from .helpers import Project, make_sample_tree


@pytest.fixture
def project(tmp_path, s3_server, bucket):
    data = tmp_path / "data"
    data.mkdir()
    make_sample_tree(data)
    p = Project(tmp_path, s3_server, bucket)
    p.write_list(data)
    p.data = data
    return p
