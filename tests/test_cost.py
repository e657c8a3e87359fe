"""Price arithmetic with numbers worked out by hand."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glacier_tasks import cost
from glacier_tasks.config import load_settings
from glacier_tasks.cost import monthly_storage, put_fee, upload_estimate
from glacier_tasks.bucket.parts import part_size_for, upload_requests

MIB = 1 << 20
GIB = 1 << 30


# ---------------------------------------------------------------- requests

def test_small_object_is_one_put():
    assert upload_requests(1) == 1
    assert upload_requests(MIB) == 1
    assert upload_requests(16 * MIB) == 1  # the multipart threshold itself


def test_just_above_threshold():
    # 16 MiB + 1: parts of 16 MiB -> 2 parts, + create + complete = 4
    assert upload_requests(16 * MIB + 1) == 4


def test_100_mb():
    # 100,000,000 / 64 parts = 1.49 MiB a part, raised to the 16 MiB floor;
    # 100,000,000 / 16,777,216 = 5.96 -> 6 parts, + create + complete = 8
    assert part_size_for(100_000_000) == 16 * MIB
    assert upload_requests(100_000_000) == 8


def test_40_gb():
    # 40e9 / 64 = 625,000,000 B = 596.05 MiB -> 597 MiB parts;
    # 40e9 / (597 * 1,048,576) = 63.9 -> 64 parts, + 2 = 66 requests
    assert part_size_for(40_000_000_000) == 597 * MIB
    assert upload_requests(40_000_000_000) == 66


@given(st.integers(16 * MIB + 1, 320 * GIB))
def test_parts_stay_large_and_few(size):
    part = part_size_for(size)
    assert part >= 16 * MIB
    assert part % MIB == 0
    assert math.ceil(size / part) <= 64
    assert upload_requests(size) == math.ceil(size / part) + 2 <= 66


@given(st.integers(1, 16 * MIB))
def test_everything_up_to_16_mib_is_one_request(size):
    assert upload_requests(size) == 1


def test_part_size_ceiling_above_320_gib():
    assert part_size_for(320 * GIB) == 5 * GIB
    assert part_size_for(1000 * GIB) == 5 * GIB  # S3's limit, more parts then


# ---------------------------------------------------------------- fees

def test_put_fee():
    # Deep Archive PUTs: 0.05 USD / 1000 -> 66 requests = 0.0033 USD
    assert put_fee(66, "DEEP_ARCHIVE") == pytest.approx(0.0033)
    # Standard PUTs: 0.005 USD / 1000
    assert put_fee(1000, "STANDARD") == pytest.approx(0.005)
    assert put_fee(0, "GLACIER") == 0


def test_monthly_storage_standard_has_no_overhead():
    # 1 GB at 0.023 USD / GB-month, no per-object overhead
    assert monthly_storage(1_000_000_000, 1, "STANDARD") == pytest.approx(0.023)
    assert monthly_storage(1_000_000_000, 1, "GLACIER_IR") == pytest.approx(0.004)


def test_monthly_storage_deep_archive_one_40_gb_bag():
    # data:            40e9 B               * 0.00099 / 1e9 = 0.0396
    # archive overhead: 32 KiB = 32,768 B   * 0.00099 / 1e9 = 0.00000003244032
    # standard overhead: 8 KiB = 8,192 B    * 0.023   / 1e9 = 0.000000188416
    # total                                                  = 0.03960022085632
    assert monthly_storage(40_000_000_000, 1, "DEEP_ARCHIVE") == \
        pytest.approx(0.03960022085632, rel=1e-12)


def test_monthly_storage_overhead_of_many_small_objects():
    # 1000 empty objects: 32,768,000 B * 0.00099 / 1e9 = 0.00003244032
    #                     8,192,000 B  * 0.023   / 1e9 = 0.000188416
    #                                            total = 0.00022085632
    assert monthly_storage(0, 1000, "DEEP_ARCHIVE") == pytest.approx(0.00022085632,
                                                                     rel=1e-12)
    # Glacier Flexible Retrieval, same overhead rule at its own rate:
    # 32,768,000 * 0.0036 / 1e9 = 0.0001179648; + 0.000188416 = 0.0003063808
    assert monthly_storage(0, 1000, "GLACIER") == pytest.approx(0.0003063808, rel=1e-12)


def test_upload_estimate_counts_manifests():
    # bags of 1 MiB (1 request) and 40 GB (66 requests), plus 2 manifests (1 each):
    # requests 1 + 66 + 2 = 69; fee 67 * 0.05/1000 + 2 * 0.005/1000 = 0.00336
    estimate = upload_estimate([MIB, 40_000_000_000], "DEEP_ARCHIVE")
    assert estimate["requests"] == 69
    assert estimate["fee"] == pytest.approx(0.00336)


def test_upload_estimate_of_nothing():
    assert upload_estimate([], "DEEP_ARCHIVE") == {"requests": 0, "fee": 0}


# ---------------------------------------------------------------- [prices]

def test_overrides_replace_prices():
    prices = {"storage_deep_archive": 0.0018, "storage_standard": 0.03,
              "put_deep_archive": 0.1}
    # 1e9 B * 0.0018 / 1e9 = 0.0018, no objects -> no overhead
    assert monthly_storage(1_000_000_000, 0, "DEEP_ARCHIVE", prices) == \
        pytest.approx(0.0018)
    # one object: 32,768 * 0.0018 / 1e9 + 8,192 * 0.03 / 1e9 = 5.89824e-8 + 2.4576e-7
    assert monthly_storage(0, 1, "DEEP_ARCHIVE", prices) == \
        pytest.approx(5.89824e-8 + 2.4576e-7, rel=1e-12)
    assert put_fee(1000, "DEEP_ARCHIVE", prices) == pytest.approx(0.1)
    # a price not overridden keeps its built-in value
    assert put_fee(1000, "STANDARD", prices) == pytest.approx(0.005)


def test_prices_from_glacier_toml(tmp_path):
    path = tmp_path / "glacier.toml"
    path.write_text('[settings]\ns3_bucket = "bkt"\n\n[prices]\nput_deep_archive = 0.1\n'
                    "put_standard = 0\n")
    prices = load_settings(path).prices
    # 66 bag requests at 0.1/1000 = 0.0066; the manifest PUT is free here
    assert upload_estimate([40_000_000_000], "DEEP_ARCHIVE", prices) == \
        {"requests": 67, "fee": pytest.approx(0.0066)}


def test_the_prices_region_is_said_only_where_it_is_not_the_configured_one():
    assert cost.region_note("us-east-1", {}) == []
    assert cost.region_note(None, {}) == []  # boto3's own region: not configured here
    assert cost.region_note("eu-west-1", {"storage_deep_archive": 0.0018}) == []
    [line] = cost.region_note("eu-west-1", {})
    assert line.startswith("Prices: AWS's list for us-east-1 (2026-01-15), but region is "
                           "eu-west-1: put eu-west-1's prices in glacier.toml's [prices]")
