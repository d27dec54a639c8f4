"""What a webhook receives for an alert: the alert as JSON, or a Slack incoming-webhook
message (``text`` plus ``blocks``). Rendered from the inbox row when sent, so an erased
customer's id is never sent after the erasure.

>>> from datetime import datetime, timezone
>>> a = dict(alert_id="al-1", customer_id="c-1", customer_ref="p-9", tier="high", previous_tier="watch", score=0.8,
...          driver="service", value_segment="mid", owner=None, reasons=[{"text": "2 complaints"}],
...          occurred_at=datetime(2024, 5, 1, tzinfo=timezone.utc), model_version="rules-1", offer_note=None)
>>> slack(a, "http://dash")["text"]
'HIGH churn risk: c-1 (score 0.80, was watch, mid value, driver service) <http://dash/#al-1|open>'
"""

from __future__ import annotations

from typing import Any


def alert_json(a: dict[str, Any], dashboard: str) -> dict[str, Any]:
    return {"alert_id": a["alert_id"], "customer_id": a["customer_id"] or a["customer_ref"], "tier": a["tier"],
            "previous_tier": a["previous_tier"], "score": round(a["score"], 4), "driver": a["driver"],
            "value_segment": a["value_segment"], "owner": a["owner"], "reasons": [r["text"] for r in a["reasons"]],
            "offer_note": a["offer_note"], "model_version": a["model_version"],
            "occurred_at": a["occurred_at"].isoformat(), "url": f"{dashboard}/#{a['alert_id']}"}


def slack(a: dict[str, Any], dashboard: str) -> dict[str, Any]:
    who = a["customer_id"] or a["customer_ref"]
    head = (f"{a['tier'].upper()} churn risk: {who} (score {a['score']:.2f}, was {a['previous_tier']}, "
            f"{a['value_segment']} value, driver {a['driver'] or 'n/a'}) <{dashboard}/#{a['alert_id']}|open>")
    reasons = "\n".join(f"• {r['text']}" for r in a["reasons"]) or "no reasons given"
    return {"text": head, "alert_id": a["alert_id"], "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": head}},
        {"type": "section", "text": {"type": "mrkdwn", "text": reasons}}]}


def render(fmt: str, a: dict[str, Any], dashboard: str) -> dict[str, Any]:
    return slack(a, dashboard) if fmt == "slack" else alert_json(a, dashboard)
