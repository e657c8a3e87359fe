"""overview.py and page.py: the report's figures are cost's and prune's for the same
listing, and the page draws them offline, escaping every name."""

import datetime
import re
from dataclasses import replace

from glacier_tasks import cost, prune
from glacier_tasks.report import figures as overview, html as page
from tests.support.builders import plan_of, planned_bag
from glacier_tasks.bucket.objects import ObjectInfo

D = datetime.date
WHEN = datetime.datetime(2026, 1, 10, 3, 0, tzinfo=datetime.timezone.utc)


class Settings:
    s3_bucket, host, storage_class = "bucket", "h", "DEEP_ARCHIVE"
    target_bytes, max_age_days = 1_000_000_000, 400
    prices = {"storage_deep_archive": 2.0}


def listing() -> dict:
    objects = [
        ("2026-backup/h_m_bag_001.tar", 1_200_000_000, "DEEP_ARCHIVE"),  # past target
        ("2026-backup/manifests/h_m_bag_001.txt", 5_000, "STANDARD"),
        ("2026-backup/h_m_bag_002.tar", 300_000_000, "DEEP_ARCHIVE"),   # prunable
        ("2026-backup/manifests/h_m_bag_002.txt", 4_000, "STANDARD"),
        ("2026-backup/system/h/inventory.json", 900, "STANDARD"),
        ("2027-backup/h_m_bag_002.tar", 400_000_000, "DEEP_ARCHIVE"),
        ("2027-backup/manifests/h_m_bag_002.txt", 4_000, "STANDARD"),
        ("2027-backup/other_x_bag_001.tar", 50_000_000, "GLACIER"),     # another host
        ("notes/readme.txt", 10, "STANDARD"),
    ]
    return {k: ObjectInfo(key=k, size=s, storage_class=c, last_modified=WHEN)
            for k, s, c in objects}


INVENTORY = {
    "atoms": {"/m/a": {"archive_key": "2026-backup/h_m_bag_001.tar", "files": 10},
              "/m/b": {"archive_key": "2027-backup/h_m_bag_002.tar", "files": 5}},
    "bags": {"2026-backup/h_m_bag_001.tar": {
                 "molecule": "/m", "size": 1_200_000_000, "atoms": ["/m/a"],
                 "manifest_key": "2026-backup/manifests/h_m_bag_001.txt"},
             "2027-backup/h_m_bag_002.tar": {
                 "molecule": "/m", "size": 400_000_000, "atoms": ["/m/b"],
                 "manifest_key": "2027-backup/manifests/h_m_bag_002.txt"}}}


def gathered(inventory=INVENTORY, objects=None, plan=None, pending=(), data=None):
    objects = listing() if objects is None else objects
    found = prune.plan_prune(objects, prune.referenced_keys(inventory, plan),
                             D(2027, 2, 1), Settings.prices, "h")
    return overview.gather(Settings, D(2027, 2, 1), inventory, plan, objects, found,
                           {"m": "/m"}, data, list(pending))


def test_bill_and_prunable_bytes_are_costs_and_prunes():
    ov = gathered()
    bill = cost.storage_bill(listing(), Settings.prices)
    assert [(b.storage_class, b.size, b.objects, b.monthly) for b in ov.bill] == \
        [(c, *figures) for c, figures in bill.items()]
    assert ov.monthly_total == sum(m for _, _, m in bill.values())
    assert ov.prunable_bytes == 300_000_000 + 4_000  # the old bag and its manifest
    assert [p.key for p in ov.prunable][0] == "2026-backup/manifests/h_m_bag_002.txt"


def test_storage_by_year_adds_up_to_the_bucket_and_names_every_bag():
    ov = gathered()
    assert sum(y.size for y in ov.years) == ov.stored_bytes
    assert [y.year for y in ov.years] == ["2026", "2027", "other"]
    parts = dict(ov.years[1].parts)
    assert parts == {"/m": 400_000_000, "host other": 50_000_000,
                     overview.EXTRA: 4_000}
    # a bag no inventory names any more is still the molecule's, by its slug
    assert dict(ov.years[0].parts)["/m"] == 1_500_000_000


def test_money_by_year_sums_to_the_bill_and_prices_the_uploads():
    ov = gathered()
    assert abs(sum(m.monthly for m in ov.money) - ov.monthly_total) < 1e-9
    year = next(m for m in ov.money if m.year == "2026")
    assert year.bags == 2 and year.upload_fee == cost.upload_estimate(
        [1_200_000_000, 300_000_000], "DEEP_ARCHIVE", Settings.prices)["fee"]


def test_restore_is_costs_full_restore_then_each_molecule():
    ov = gathered()
    everything = {r.tier: r for r in ov.restore if r.scope == "everything"}
    for tier in cost.TIERS:
        assert everything[tier].total == cost.restore_cost(
            1_600_000_000, 2, tier, Settings.prices)["total"]
    assert {r.scope for r in ov.restore} == {"everything", "/m"}


def test_bags_fill_oversized_and_pending():
    upload = planned_bag(3, atoms=["/m/c"], size=500_000_000)
    plan = plan_of([upload], missing=["/gone"])
    ov = gathered(plan=plan, pending=["h_m_bag_003"])
    assert [b.key for b in ov.oversized] == ["2026-backup/h_m_bag_001.tar"]
    assert [(b.key, b.fill) for b in ov.bags if b.pending] == \
        [("2027-backup/h_m_bag_003.tar", 0.5)]
    texts = [c.text for c in ov.checks]
    assert any("Missing molecule /gone: folder not found" in t for t in texts)
    assert any("holds 120% of target_bag_gb" in t for t in texts)


def test_an_empty_archive_has_no_figures_but_a_page():
    ov = gathered(inventory={"atoms": {}, "bags": {}}, objects={})
    assert ov.stored_bytes == 0 and not ov.bags and not ov.money and not ov.restore
    assert ov.checks[0].level == "fail" and "no backup" in ov.checks[0].text.lower()
    html = page.render(ov, "0.1.0")
    assert "The bucket holds nothing yet" in html and "No backup recorded yet" in html


EXTERNAL = re.compile(r"https?:|\b(src|href)\s*=|url\(|@import|<script|<link|<img",
                      re.IGNORECASE)


def test_the_page_is_self_contained_and_escapes_names():
    inventory = {"atoms": INVENTORY["atoms"], "bags": {
        k: {**b, "molecule": '/m/<script>alert("x")</script>'}
        for k, b in INVENTORY["bags"].items()}}
    html = page.render(gathered(inventory=inventory), "0.1.0")
    assert EXTERNAL.search(html) is None, EXTERNAL.search(html)
    assert "&lt;script&gt;" in html
    figures = dict(re.findall(r'data-figure="([^"]+)">([^<]*)<', html))
    ov = gathered()
    assert figures["monthly-total"] == f"${ov.monthly_total:.2f}"
    assert figures["restore-everything-Bulk"] == \
        f"${cost.restore_cost(1_600_000_000, 2, 'Bulk', Settings.prices)['total']:.2f}"


def test_a_bag_kept_as_history_becomes_free_on_its_later_date():
    ov = gathered()
    kept = prune.Prunable("2026-backup/h_m_bag_009.tar", 10**9, "DEEP_ARCHIVE",
                          D(2026, 1, 10), 387, 0.0, D(2026, 7, 9),
                          history_until=D(2028, 1, 10))
    html = page.render(replace(ov, prunable=(kept,)), "0.1.0")
    assert "history until 2028-01-10 (keep_years)" in html
    assert '<span class="lab">2028-01-10</span>' in html  # the chart's date is the later
