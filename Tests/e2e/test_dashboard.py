"""The dashboard (issue 19) in a real browser: headless Chromium opens /dashboard
after traffic, runs the page's own JavaScript, and the figures it shows equal
/v1/usage; the month's bill from `wafer usage --format html` shows the same.
Keys: the page needs none, its data does (an admin sees every key, a key its own).
A screenshot of each page is kept in .build/e2e-artifacts."""
import json
import re
import shutil
import subprocess
import time

import httpx
import pytest

from conftest import MODEL_ID, ROOT, WAFER, Server

ARTIFACTS = ROOT / ".build" / "e2e-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def browse(url, screenshot):
    """The DOM after the page's scripts ran, and a screenshot of it."""
    assert CHROMIUM, "chromium is not installed (scripts/setup --tests installs it)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,1500",
             "--virtual-time-budget=5000"]
    dom = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    subprocess.run(flags + [f"--screenshot={ARTIFACTS / screenshot}", url], capture_output=True, timeout=120)
    assert (ARTIFACTS / screenshot).stat().st_size > 10_000, "no screenshot"
    return dom


def shown(dom, element_id):
    m = re.search(rf'id="{element_id}"[^>]*data-value="([^"]*)"', dom) or re.search(rf'data-value="([^"]*)"[^>]*id="{element_id}"', dom)
    assert m, f"#{element_id} has no figure in the rendered page"
    return m.group(1)


def traffic(client, n=4):
    for i in range(n):
        client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": f"Count to {i}."}], max_tokens=6)


def test_the_live_page_shows_the_ledgers_figures(server, client):
    traffic(client)
    lines = "".join(json.dumps({"custom_id": f"d{i}", "method": "POST", "url": "/v1/chat/completions", "body": {
        "model": MODEL_ID, "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}}) + "\n" for i in range(2))
    upload = client.files.create(file=("d.jsonl", lines.encode()), purpose="batch")
    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h")
    for _ in range(300):
        if client.batches.retrieve(batch.id).status == "completed":
            break
        time.sleep(0.1)
    total = httpx.get(server.base + "/v1/usage?group_by=day").json()["total"]
    dom = browse(server.base + "/dashboard", "dashboard.png")
    assert 'data-rendered="yes"' in dom, "the page's script did not render"
    assert float(shown(dom, "total-cost")) == pytest.approx(total["cost_usd"], rel=1e-12)
    assert int(shown(dom, "total-tokens")) == total["total_tokens"]
    assert int(shown(dom, "total-requests")) == total["requests"]
    assert int(shown(dom, "total-prompt")) == total["prompt_tokens"]
    by_model = httpx.get(server.base + "/v1/usage?group_by=model").json()["data"]
    assert all(line["group"] in dom for line in by_model)
    assert "https://" not in dom and "http://" not in dom.split("<script>")[0], "the page refers to an outside URL"
    assert re.search(r'id="live-tps"[^>]*>\d', dom), "the live section shows throughput"
    assert batch.id in dom and "2 / 0 / 2" in dom, "the batch job and its progress are shown"


def test_the_html_bill_shows_the_same_month(server, client, tmp_path):
    traffic(client, 2)
    total = httpx.get(server.base + "/v1/usage?group_by=day").json()["total"]
    bill = subprocess.run([str(WAFER), "usage", "--db", server.ledger, "--format", "html"], capture_output=True, text=True, timeout=60)
    assert bill.returncode == 0, bill.stderr
    page = tmp_path / "bill.html"
    page.write_text(bill.stdout)
    dom = browse(page.as_uri(), "bill.png")
    assert float(shown(dom, "total-cost")) == pytest.approx(total["cost_usd"], rel=1e-12)
    assert int(shown(dom, "total-tokens")) == total["total_tokens"]
    assert re.search(r'<section id="live"[^>]*hidden', dom), "a bill has no live section"


def test_keys_see_their_own_figures(tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"key": "sk-admin-0001", "name": "ops", "tier": "on-demand", "admin": True},
                                         {"key": "sk-alice-0001", "name": "alice", "tier": "on-demand"},
                                         {"key": "sk-bob-00001", "name": "bob", "tier": "reserved"}]}))
    s = Server("--api-keys", str(keys))
    try:
        traffic(s.client("sk-alice-0001"), 2)
        traffic(s.client("sk-bob-00001"), 1)
        assert httpx.get(s.base + "/dashboard").status_code == 200, "the page itself needs no key"
        assert httpx.get(s.base + "/dashboard/data").status_code == 401
        def data(key): return httpx.get(s.base + "/dashboard/data", headers={"Authorization": f"Bearer {key}"}).json()
        def usage(key): return httpx.get(s.base + "/v1/usage", headers={"Authorization": f"Bearer {key}"}).json()["total"]
        alice, admin = data("sk-alice-0001"), data("sk-admin-0001")
        assert alice["key"] == "alice" and [l["group"] for l in alice["by_key"]["data"]] == ["alice"]
        assert alice["by_day"]["total"]["total_tokens"] == usage("sk-alice-0001")["total_tokens"]
        assert {l["group"] for l in admin["by_key"]["data"]} == {"alice", "bob"} and admin.get("key") is None
        assert admin["by_day"]["total"]["cost_usd"] == pytest.approx(usage("sk-admin-0001")["cost_usd"])
        assert {l["group"] for l in admin["by_tier"]["data"]} == {"on-demand", "reserved"}
    finally:
        assert s.stop() == 0


def test_usage_by_hour_and_tier_and_a_bad_grouping(server, client):
    traffic(client, 1)
    hours = httpx.get(server.base + "/v1/usage?group_by=hour").json()
    assert hours["data"] and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d", line["group"]) for line in hours["data"])
    assert sum(line["total_tokens"] for line in hours["data"]) == hours["total"]["total_tokens"]
    assert [line["group"] for line in httpx.get(server.base + "/v1/usage?group_by=tier").json()["data"]] == ["on-demand"]
    bad = httpx.get(server.base + "/v1/usage?group_by=week")
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "group_by" and "hour" in bad.json()["error"]["message"]
