"""overview.py and page.py: the report's figures are cost's and prune's for the same
listing, and the page draws them offline, escaping every name."""

import datetime
import re
from dataclasses import replace

from glacier_tasks import cost, prune
from glacier_tasks.errors import command
from glacier_tasks.report import blocks as page_blocks, figures as overview, tally
from glacier_tasks.report import html as page
from tests.support.builders import plan_of, planned_bag, typed
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
    found = prune.plan_prune(objects, prune.referenced_keys(typed(inventory), plan),
                             D(2027, 2, 1), Settings.prices, "h")
    return overview.gather(Settings, D(2027, 2, 1), typed(inventory), plan, objects, found,
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
    assert [b.key for b in ov.past_target] == ["2026-backup/h_m_bag_001.tar"]
    assert [(b.key, b.fill) for b in ov.bags if b.pending] == \
        [("2027-backup/h_m_bag_003.tar", 0.5)]
    texts = [c.text for c in ov.checks]
    assert any("Missing molecule /gone: folder not found" in t for t in texts)
    assert ("info", "1 bag larger than target_bag_gb, each holding one atom larger than "
            "the target: normal, such an atom gets a bag of its own") in \
        [(c.level, c.text) for c in ov.checks]


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
    bulk = cost.restore_cost(1_600_000_000, 2, 'Bulk', Settings.prices)['total']
    assert 0 < bulk < 0.005 and figures["restore-everything-Bulk"] == "$0.0040"


def test_a_bag_kept_as_history_becomes_free_on_its_later_date():
    ov = gathered()
    kept = prune.Prunable("2026-backup/h_m_bag_009.tar", 10**9, "DEEP_ARCHIVE",
                          D(2026, 1, 10), 387, 0.0, D(2026, 7, 9),
                          history_until=D(2028, 1, 10))
    html = page.render(replace(ov, prunable=(kept,)), "0.1.0")
    assert "history until 2028-01-10 (keep_years)" in html
    assert '<span class="lab">2028-01-10</span>' in html  # the chart's date is the later


def test_only_a_bag_of_several_atoms_past_the_target_needs_a_look():
    bags = {"2026-backup/h_m_bag_001.tar": {"molecule": "/m", "size": 1_200_000_000,
                                            "atoms": ["/m/a"]},          # one atom: normal
            "2026-backup/h_m_bag_003.tar": {"molecule": "/m", "size": 1_000_010_240,
                                            "atoms": ["/m/c", "/m/d"]},  # tar's last record
            "2027-backup/h_m_bag_002.tar": {"molecule": "/m", "size": 1_500_000_000,
                                            "atoms": ["/m/b", "/m/e"]}}  # needs a look
    ov = gathered(inventory={"atoms": INVENTORY["atoms"], "bags": bags})
    assert [b.key for b in ov.past_target] == ["2026-backup/h_m_bag_001.tar",
                                               "2027-backup/h_m_bag_002.tar"]
    sizes = [(c.level, c.text) for c in ov.checks if "target" in c.text]
    assert sizes == [
        ("info", "1 bag larger than target_bag_gb, each holding one atom larger than the "
                 "target: normal, such an atom gets a bag of its own"),
        ("warn", "Bag 2027-backup/h_m_bag_002.tar holds 150% of target_bag_gb in 2 atoms "
                 "(was target_bag_gb lowered since it was packed?)")]


def verify_data(run_date: str) -> dict:
    return {"format": 1, "latest": {"verify": {"run_date": run_date, "exit_status": 0,
                                               "bags": {"checked": 2}}}}


def test_a_verify_older_than_max_age_days_is_not_green():
    fresh = gathered(data=verify_data("2026-06-01"))  # 245 days before 2027-02-01
    stale = gathered(data=verify_data("2025-12-01"))  # 427 days: past max_age_days 400
    assert ("ok", "Last verify 2026-06-01: all 2 bags as recorded") in \
        [(c.level, c.text) for c in fresh.checks]
    assert ("warn", "Last verify 2025-12-01 is 427 days old, more than max_age_days "
                    f"(400): run '{command('verify')}'") in \
        [(c.level, c.text) for c in stale.checks]
    assert not any("verify" in c.text for c in stale.checks if c.level == "ok")


def test_money_keeps_its_first_digits():
    assert [page_blocks.usd(a) for a in (0, 12.345, 0.004, 0.0000347, 0.0004)] == \
        ["$0.00", "$12.35", "$0.0040", "$0.000035", "$0.00040"]
    assert page_blocks.usd(0.00004, 4) == "$0.000040" and page_blocks.usd(0.5, 4) == \
        "$0.5000"
    assert page_blocks.usd(4e-9) == "<$0.000001"


def test_the_year_tally_names_each_atom_once():
    first = tally.tally_year(None, 2027, {"added": ["/m/g", "/m/h"], "changed": ["/m/a"],
                                         "removed": ["/m/b"]})
    assert first == {"year": 2027, "added": ["/m/g", "/m/h"], "changed": ["/m/a"],
                     "removed": ["/m/b"]}
    # g changes again (still added), h goes (never there), b comes back (changed), a
    # goes (removed)
    second = tally.tally_year(first, 2027, {"added": ["/m/b"], "changed": ["/m/g"],
                                           "removed": ["/m/h", "/m/a"]})
    assert second == {"year": 2027, "added": ["/m/g"], "changed": ["/m/b"],
                      "removed": ["/m/a"]}
    assert tally.tally_year(second, 2028, {"added": [], "changed": ["/m/g"],
                                          "removed": []}) == \
        {"year": 2028, "added": [], "changed": ["/m/g"], "removed": []}


def test_every_chart_colours_a_molecule_alike():
    inventory = {"atoms": INVENTORY["atoms"], "bags": {
        **INVENTORY["bags"], "2027-backup/h_n_bag_001.tar": {
            "molecule": "/n", "size": 100_000_000, "atoms": ["/n/x"]}}}
    objects = {**listing(), "2027-backup/h_n_bag_001.tar": ObjectInfo(
        "2027-backup/h_n_bag_001.tar", 100_000_000, "DEEP_ARCHIVE", WHEN)}
    html = page.render(gathered(inventory=inventory, objects=objects), "0.1.0")
    seen = {}
    for colour, label in re.findall(r'(?:fill="|background:)(#\w+)"?[^>]*?'
                                    r'data-label="([^"]*)"', html):
        seen.setdefault(label, set()).add(colour)
    assert {"/m", "/n", "host other", overview.EXTRA} <= set(seen)
    assert all(len(c) == 1 for c in seen.values()), seen
    assert seen["/m"] != seen["/n"] and seen[overview.EXTRA] == {page_blocks.GREY}
    assert len(page_blocks.colours([f"/m{i}" for i in range(30)]).values()) == 30


def test_the_last_upload_stays_in_sight_after_a_run_that_sent_nothing():
    upload = {"run_date": "2027-01-15", "sent": {"bags": 2, "bytes": 3_000_000,
                                                 "requests": 4, "fee": 0.0002}}
    stopped = {"command": "backup", "run_date": "2027-01-20", "exit_status": 1,
               "year": 2027, "stopped_before_report": ["_bucket: unreachable"]}
    html = page.render(gathered(data={**stopped, "format": 1, "latest": {
        "backup": stopped, "upload": upload}}), "0.1.0")
    assert '<dt>Last upload</dt><dd><span data-figure="last-upload-date">2027-01-15' \
           '</span>: 2 bags, 3.0 MB, fee about $0.0002</dd>' in html
    # a last-run.json from before `upload`: the inventory's newest uploads tell
    inventory = {"atoms": INVENTORY["atoms"], "bags": {
        k: {**b, "uploaded_at": f"2026-0{i + 3}-01T10:00:00Z"}
        for i, (k, b) in enumerate(INVENTORY["bags"].items())}}
    assert tally.last_upload(None, typed(inventory)) == \
        {"run_date": "2026-04-01", "sent": {"bags": 1, "bytes": 400_000_000}}


def test_bag_bars_are_labelled_and_scaled_so_two_and_three_times_differ():
    sizes = {"bag_001": 2_000_000_000, "bag_002": 3_000_000_000, "bag_003": 500_000_000}
    bags = {f"2027-backup/h_m_{t}.tar": {"tar_id": t, "molecule": "/m", "size": n,
                                          "atoms": [f"/m/{t}"]} for t, n in sizes.items()}
    html = page.render(gathered(inventory={"atoms": {}, "bags": bags}), "0.1.0")
    widths = {t: float(w) for t, w in re.findall(
        r'title="2027-backup/h_m_(bag_\d+)\.tar">.*?<rect x="0" y="0" width="([\d.]+)"',
        html)}
    assert widths == {"bag_001": 666.67, "bag_002": 1000.0, "bag_003": 166.67}
    assert '<span class="val">3.0 GB · 300%</span>' in html
    assert '<line x1="333.33" x2="333.33"' in html  # the target, a third of the way
    huge = {**bags, "2027-backup/h_m_bag_004.tar": {"tar_id": "bag_004", "molecule": "/m",
                                                     "size": 10_000_000_000, "atoms": []}}
    html = page.render(gathered(inventory={"atoms": {}, "bags": huge}), "0.1.0")
    assert '<span class="val">10.0 GB · 1000%</span>' in html  # cut at 4x, said in full
    assert html.count('<rect x="930"') == 1 and '<line x1="250.00"' in html
