"""The retention team's service on one shared run (:mod:`tests.team_service.scenario`): a real
worker, broker, Redis and PostgreSQL, the service as its own process, a real browser.

In file order: the live dashboard; approvals; roles; webhooks after a 30-second outage;
erasure. Each test also runs alone (the first to need alerts publishes the events).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from schemas.events import ErasureRequest
from tests.integration.kafka import collect, publish, wait_for
from tests.team_service.browser import launch
from tests.team_service.scenario import RAW_IDS, run

pytestmark = pytest.mark.integration
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"


# ---------------------------------------------------------------- live dashboard, in a browser
@pytest.mark.browser
def test_alerts_appear_live_on_the_dashboard_and_acknowledge_is_recorded_with_its_author(inbox):
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(inbox.api.url + "/")
            page.fill("#token", inbox.api.tokens["agent"])
            page.click("#sign-in-form button[type=submit]")
            expect(page.locator("#who")).to_have_text("test-agent (agent)")
            expect(page.locator("#live")).to_have_text("live")
            if not inbox.fed:  # nothing published yet: the alerts must arrive over the live stream
                expect(page.locator(".alert")).to_have_count(0)
            inbox.feed()
            first = page.locator(".alert").first
            expect(first).to_be_visible(timeout=120_000)
            alert_id = first.get_attribute("data-alert-id")
            card = page.locator(f"#alert-{alert_id}")
            expect(card.locator(".reasons li").first).not_to_be_empty()
            expect(card.locator(".status")).to_have_text("open")
            card.locator("button[data-act=acknowledge]").click()
            expect(card.locator(".status")).to_have_text("acknowledged")
            expect(card.locator(".trail")).to_contain_text("test-agent acknowledge")

            got = inbox.api.get(f"/api/alerts/{alert_id}").json()
            assert got["status"] == "acknowledged"
            assert [(a["actor"], a["role"], a["action"]) for a in got["actions"]] == [("test-agent", "agent", "acknowledge")]

            inbox.alerts(4)

            def settled() -> bool:  # every alert the API has is on the page, and the overview counts them
                n = len(inbox.api.get("/api/alerts?limit=500").json()["items"])
                return page.locator(".alert").count() == n and page.locator("#ov-alerts").inner_text() == str(n)

            wait_for(settled, "the dashboard shows every alert of the inbox and counts them", deadline_s=60, every=0.5)
            page.evaluate("window.scrollTo(0, 0)")
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()


def test_the_dashboard_refuses_actions_from_another_site(inbox):
    """A signed-in browser's cookies alone do not act: the CSRF header must match, and a foreign Origin is refused."""
    alert_id = inbox.alerts(1)[0]["alert_id"]
    signed = httpx.post(inbox.api.url + "/api/session", json={"token": inbox.api.tokens["agent"]})
    assert signed.status_code == 200
    cookies = dict(signed.cookies)
    assert "HttpOnly" in signed.headers.get_list("set-cookie")[0] and "SameSite=strict" in signed.headers.get_list("set-cookie")[0]
    url = f"{inbox.api.url}/api/alerts/{alert_id}/assign"
    forged = httpx.post(url, json={"owner": "mallory"}, cookies=cookies, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403, forged.text
    no_header = httpx.post(url, json={"owner": "mallory"}, cookies=cookies)
    assert no_header.status_code == 403, no_header.text
    ok = httpx.post(url, json={"owner": "anna"}, cookies=cookies, headers={"X-CSRF-Token": cookies["churn_csrf"]})
    assert ok.status_code == 200 and ok.json()["owner"] == "anna", ok.text
    assert "mallory" not in json.dumps(inbox.api.get(f"/api/alerts/{alert_id}").json())
    assert httpx.get(inbox.api.url + "/").headers["x-frame-options"] == "DENY"


# ---------------------------------------------------------------- approvals
def test_an_approved_offer_goes_out_once_and_a_rejected_one_never(inbox):
    pending = inbox.pending(2)
    approve, reject = pending[0]["offer_id"], pending[1]["offer_id"]
    a = inbox.api.post(f"/api/offers/{approve}/approve", json={"note": "worth it"})
    assert a.status_code == 200 and a.json()["status"] == "approved" and a.json()["decided_by"] == "test-agent", a.text
    r = inbox.api.post(f"/api/offers/{reject}/reject")
    assert r.status_code == 200 and r.json()["status"] == "rejected", r.text
    assert inbox.api.post(f"/api/offers/{approve}/approve").status_code == 409  # no second send
    assert inbox.api.post(f"/api/offers/{reject}/approve").status_code == 409  # a rejection is final
    assert inbox.api.post(f"/api/offers/{approve}/approve", role="analyst").status_code == 403

    s = inbox.settings
    marker = f"marker-{time.time_ns()}"
    inbox.api.wait("/api/offers?status=approved", lambda j: any(o["offer_id"] == approve for o in j), "approved listed")
    run(publish(s, raw=[(s.topic("offers"), b"marker", json.dumps({"marker": marker}).encode())]))

    def sent(records: list) -> bool:
        return any(v.get("marker") == marker for _, _, v in records) and any(
            v.get("offer_id") == approve and v.get("status") == "send" for _, _, v in records)

    records = run(collect(s, ["offers"], sent, deadline_s=60))
    copies = [v for _, _, v in records if v.get("offer_id") == approve]
    assert [c["status"] for c in copies] == ["pending_approval", "send"], copies
    assert copies[1]["alert_id"] == copies[0]["alert_id"] and copies[1]["value"] == copies[0]["value"]
    assert [v["status"] for _, _, v in records if v.get("offer_id") == reject] == ["pending_approval"]
    trail = inbox.api.get(f"/api/alerts/{copies[0]['alert_id']}").json()["actions"]
    assert ("test-agent", "approve", approve) in [(t["actor"], t["action"], t["offer_id"]) for t in trail]


# ---------------------------------------------------------------- roles
def _routes(inbox) -> dict[tuple[str, str], tuple[str, ...]]:  # noqa: ANN001
    """Every operation of the served OpenAPI document and the roles it admits (() = public)."""
    alert = inbox.alerts(1)[0]
    offer = inbox.api.wait("/api/offers", lambda j: len(j) > 0, "an offer")[0]
    fill = {"{alert_id}": alert["alert_id"], "{customer}": alert["customer_id"], "{offer_id}": offer["offer_id"],
            "{token_id}": "999999"}
    reader, agent, admin = ("agent", "analyst"), ("agent",), ("admin",)
    expected = {
        ("GET", "/api/alerts"): reader, ("GET", "/api/alerts/{alert_id}"): reader,
        ("POST", "/api/alerts/{alert_id}/acknowledge"): agent, ("POST", "/api/alerts/{alert_id}/assign"): agent,
        ("POST", "/api/alerts/{alert_id}/snooze"): agent, ("POST", "/api/alerts/{alert_id}/resolve"): agent,
        ("GET", "/api/customers/{customer}"): reader, ("GET", "/api/offers"): reader,
        ("POST", "/api/offers/{offer_id}/approve"): agent, ("POST", "/api/offers/{offer_id}/reject"): agent,
        ("GET", "/api/overview"): reader, ("GET", "/api/stream"): reader, ("GET", "/api/me"): ("agent", "analyst", "admin"),
        ("GET", "/api/tokens"): admin, ("POST", "/api/tokens"): admin, ("DELETE", "/api/tokens/{token_id}"): admin,
        ("POST", "/api/session"): (), ("DELETE", "/api/session"): (), ("GET", "/healthz"): (), ("GET", "/readyz"): (),
        ("GET", "/metrics"): ()}
    served = {(m.upper(), p) for p, ops in inbox.api.get("/openapi.json", None).json()["paths"].items() for m in ops}
    assert served == set(expected), f"role table out of date: {served ^ set(expected)}"
    out = {}
    for (method, path), roles in expected.items():
        for k, v in fill.items():
            path = path.replace(k, v)
        out[(method, path)] = roles
    return out


def _status(inbox, method: str, path: str, role: str | None) -> int:  # noqa: ANN001
    headers = {"Authorization": f"Bearer {inbox.api.tokens[role]}"} if role else {}
    body = {"bogus": 1} if method == "POST" else None  # an admitted caller gets 422, never a change
    with httpx.stream(method, inbox.api.url + path, headers=headers, json=body, timeout=15) as resp:
        return resp.status_code  # (the event stream is closed without being read)


def test_every_endpoint_admits_exactly_its_roles(inbox):
    for (method, path), roles in _routes(inbox).items():
        if not roles:
            continue
        assert _status(inbox, method, path, None) == 401, (method, path)
        bad = httpx.request(method, inbox.api.url + path, headers={"Authorization": "Bearer ca_not-a-token"}, timeout=15)
        assert bad.status_code == 401, (method, path)
        for role in ("agent", "analyst", "admin"):
            got = _status(inbox, method, path, role)
            if role in roles:
                assert got not in (401, 403), (method, path, role, got)
            else:
                assert got == 403, (method, path, role, got)


def test_an_analyst_never_receives_a_raw_customer_id(inbox):
    alerts = inbox.alerts(4)
    agent_ids = {a["customer_id"] for a in alerts}
    assert agent_ids <= set(RAW_IDS)
    seen = inbox.api.get("/api/alerts?limit=500", "analyst").json()["items"]
    refs = {a["customer_id"] for a in seen}
    assert len(refs) == len(agent_ids) and all(r.startswith("p-") for r in refs)  # stable: one pseudonym per customer
    bodies = [json.dumps(seen)]
    for ref in refs:
        c = inbox.api.get(f"/api/customers/{ref}", "analyst")
        assert c.status_code == 200 and c.json()["features"], c.text
        bodies.append(c.text)
        assert inbox.api.get(f"/api/customers/{next(iter(agent_ids))}", "analyst").status_code == 404
    for path in ("/api/offers?limit=1000", "/api/overview", f"/api/alerts/{seen[0]['alert_id']}"):
        bodies.append(inbox.api.get(path, "analyst").text)
    with httpx.stream("GET", inbox.api.url + "/api/stream", headers={"Authorization": f"Bearer {inbox.api.tokens['analyst']}"},
                      timeout=30) as stream:
        inbox.api.post(f"/api/alerts/{alerts[-1]['alert_id']}/assign", json={"owner": "bo"})
        for line in stream.iter_lines():
            if line.startswith("data: {") and '"alert_id"' in line:
                bodies.append(line)
                break
    text = "\n".join(bodies)
    assert not [cid for cid in RAW_IDS if cid in text], "an analyst received a raw customer id"


# ---------------------------------------------------------------- webhooks
def test_a_webhook_down_for_30_seconds_then_up_receives_every_alert_exactly_once(inbox):
    inbox.alerts(4)

    def deliveries() -> dict[str, float]:
        lines = inbox.api.get("/metrics", None).text.splitlines()
        return {ln.split('"')[1]: float(ln.split()[-1]) for ln in lines if ln.startswith("churn_webhook_deliveries_total{")}

    try:
        wait_for(lambda: deliveries().get("retry", 0) > 0, "failed delivery attempts while the receiver is down")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ndelivery attempts by outcome: {deliveries()}") from None
    wait_for(lambda: time.monotonic() - inbox.started >= 30, "the receiver's 30-second outage", deadline_s=40, every=0.5)
    inbox.receiver.start()
    ids = {a["alert_id"] for a in inbox.api.get("/api/alerts?limit=500").json()["items"]}
    high = {a["alert_id"] for a in inbox.api.get("/api/alerts?limit=500&value_segment=high").json()["items"]}

    def depth() -> float:
        text = inbox.api.get("/metrics", None).text
        return float(text.split("\nchurn_webhook_outbox_depth ")[1].split()[0])

    wait_for(lambda: {b["alert_id"] for b in inbox.receiver.got["/all"]} >= ids and depth() == 0, "every alert delivered",
             deadline_s=60)
    got = [b["alert_id"] for b in inbox.receiver.got["/all"]]
    assert sorted(got) == sorted(set(got)) and set(got) == ids, f"not exactly once: {got}"
    slack = inbox.receiver.got["/slack"]
    assert sorted(b["alert_id"] for b in slack) == sorted(ids) and all(b["text"] and b["blocks"] for b in slack)
    assert {b["alert_id"] for b in inbox.receiver.got["/high"]} == high  # routed by segment


# ---------------------------------------------------------------- erasure
def test_erasure_removes_the_customer_from_the_inbox_and_keeps_the_audit_pseudonymised(inbox):
    alerts = inbox.alerts(4)
    target = alerts[0]
    cid, alert_id = target["customer_id"], target["alert_id"]
    assert inbox.api.post(f"/api/alerts/{alert_id}/resolve", json={"note": "called, stays"}).status_code in (200, 409)
    ref = inbox.api.get(f"/api/alerts/{alert_id}", "analyst").json()["customer_id"]
    assert inbox.api.get(f"/api/customers/{cid}").json()["score_history"]
    run(publish(inbox.settings, [ErasureRequest(event_type="erasure_request", event_id=f"er-{cid}", customer_id=cid,
                                                occurred_at="2024-06-01T00:00:00+00:00", requested_by="dpo-1")]))
    after = inbox.api.wait(f"/api/alerts/{alert_id}", lambda j: j["customer_id"] != cid, "identity removed from the inbox")
    assert after["customer_id"] == ref
    customer = inbox.api.get(f"/api/customers/{ref}").json()
    assert customer["customer_id"] == ref and customer["score_history"] == []
    assert inbox.api.get(f"/api/customers/{cid}").status_code == 404
    assert cid not in json.dumps(inbox.api.get("/api/alerts?limit=500").json())
    assert "resolve" in [t["action"] for t in after["actions"]], "the audit trail lost the resolve"
    import psycopg

    with psycopg.connect(inbox.settings.database_url.get_secret_value()) as conn:
        for table in ("alerts", "offers", "score_history", "customers", "actions"):
            n = conn.execute(f"SELECT count(*) FROM {table} WHERE customer_id = %s", (cid,)).fetchone()[0]
            assert n == 0, f"{table} still holds {cid}"
        kept = conn.execute("SELECT count(*) FROM actions WHERE customer_ref = %s", (ref,)).fetchone()[0]
        assert kept >= 2, "the audit trail lost the actions (the resolve and the erasure)"
