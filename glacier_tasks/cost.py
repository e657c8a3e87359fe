"""Price arithmetic, pure. Prices: AWS us-east-1 public price list, taken 2026-01-15.

Override any of them in glacier.toml's [prices] table, e.g. `storage_deep_archive =
0.0018` for another region. Units: storage_* in USD per GB-month, put_* in USD per
1,000 PUT, COPY, POST or LIST requests (each multipart part counts as one);
retrieval_* in USD per GB thawed from Deep Archive, restore_requests_* per 1,000
restore requests, transfer_out per GB downloaded beyond transfer_out_free_gb a month.
"""

from .bucket.parts import upload_requests

# How long a Deep Archive thaw takes, by retrieval tier (AWS documentation).
TIER_DELAY = {"Bulk": "about 48 hours", "Standard": "about 12 hours",
              "Expedited": "1-5 minutes"}
TIER_HOURS = {"Bulk": 48, "Standard": 12, "Expedited": 1}

PRICES_DATE = "2026-01-15"
PRICES_REGION = "us-east-1"
_STORAGE = {"DEEP_ARCHIVE": 0.00099, "GLACIER": 0.0036, "GLACIER_IR": 0.004,
            "STANDARD_IA": 0.0125, "ONEZONE_IA": 0.01, "INTELLIGENT_TIERING": 0.023,
            "STANDARD": 0.023}
_PUT = {"DEEP_ARCHIVE": 0.05, "GLACIER": 0.03, "GLACIER_IR": 0.02, "STANDARD_IA": 0.01,
        "ONEZONE_IA": 0.01, "INTELLIGENT_TIERING": 0.005, "STANDARD": 0.005}
PRICES = {**{f"storage_{c.lower()}": p for c, p in _STORAGE.items()},
          **{f"put_{c.lower()}": p for c, p in _PUT.items()},
          "retrieval_bulk": 0.0025, "retrieval_standard": 0.02,
          "retrieval_expedited": 0.03,  # GLACIER class only: Deep Archive has no such tier
          "restore_requests_bulk": 0.025, "restore_requests_standard": 0.10,
          "restore_requests_expedited": 10.0,
          "transfer_out": 0.09, "transfer_out_free_gb": 100}
TIERS = ("Bulk", "Standard")
GB = 1e9
# S3 bills 40 KB more per archived object: 8 KB at Standard, 32 KB at the archive rate.
OVERHEAD_STANDARD, OVERHEAD_ARCHIVE = 8 * 1024, 32 * 1024
ARCHIVE_CLASSES = ("DEEP_ARCHIVE", "GLACIER")


def price(name: str, overrides: dict | None = None) -> float:
    return (overrides or {}).get(name, PRICES[name])


def put_fee(requests: int, storage_class: str, overrides=None) -> float:
    return requests / 1000 * price(f"put_{storage_class.lower()}", overrides)


def monthly_storage(size: int, objects: int, storage_class: str, overrides=None) -> float:
    rate = price(f"storage_{storage_class.lower()}", overrides)
    if storage_class not in ARCHIVE_CLASSES:
        return size / GB * rate
    standard = price("storage_standard", overrides)
    return (size + objects * OVERHEAD_ARCHIVE) / GB * rate + \
        objects * OVERHEAD_STANDARD / GB * standard


def upload_estimate(bag_sizes: list, storage_class: str, overrides=None) -> dict:
    """Requests and fee for uploading bags of these sizes, each with its manifest."""
    bag_requests = sum(upload_requests(size) for size in bag_sizes)
    manifests = len(bag_sizes)
    fee = put_fee(bag_requests, storage_class, overrides) + \
        put_fee(manifests, "STANDARD", overrides)
    return {"requests": bag_requests + manifests, "fee": fee}


def restore_cost(size: int, objects: int, tier: str, overrides=None,
                 transfer_size: int | None = None) -> dict:
    """Thawing and downloading `objects` objects of `size` bytes in all, in one month;
    with transfer_size, only that many bytes of them are downloaded (ranged GETs)."""
    tier = tier.lower()
    retrieval = size / GB * price(f"retrieval_{tier}", overrides)
    requests = objects / 1000 * price(f"restore_requests_{tier}", overrides)
    fetched = size if transfer_size is None else transfer_size
    billable = max(0.0, fetched / GB - price("transfer_out_free_gb", overrides))
    transfer = billable * price("transfer_out", overrides)
    return {"retrieval": retrieval, "requests": requests, "transfer": transfer,
            "total": retrieval + requests + transfer}


def storage_bill(objects: dict, overrides=None) -> dict:
    """storage class -> (bytes, objects, USD per month) for key -> ObjectInfo."""
    totals = {}
    for size, storage_class in ((o.size, o.storage_class) for o in objects.values()):
        held, count = totals.get(storage_class, (0, 0))
        totals[storage_class] = (held + size, count + 1)
    return {c: (held, count, monthly_storage(held, count, c, overrides))
            for c, (held, count) in sorted(totals.items())}


def one_object_per_file(files: int, size: int, storage_class: str, overrides=None) -> dict:
    """The same data uploaded file by file: what bagging saves."""
    return {"objects": files,
            "upload_fee": put_fee(files, storage_class, overrides),
            "monthly": monthly_storage(size, files, storage_class, overrides),
            "restore_bulk": restore_cost(size, files, "Bulk", overrides)["total"]}


def region_note(region: str | None, overrides: dict | None) -> list[str]:
    """One line, for a command that shows money, when the configured region is not
    the one these prices are for and no [prices] table says the region's own (S3's
    prices differ by region: Deep Archive storage costs more outside us-east-1)."""
    if not region or region == PRICES_REGION or overrides:
        return []
    return [f"Prices: AWS's list for {PRICES_REGION} ({PRICES_DATE}), but region is "
            f"{region}: put {region}'s prices in glacier.toml's [prices] table "
            "(storage_deep_archive, put_deep_archive, ...; README.md, Configuration) "
            "and this line goes"]
