"""Offer policy file, consent, channels, control group, approval, stable offer ids."""

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from alerts.offers import OfferPlan, OfferPolicy, Skip, build_offer, choose_offer, in_control_group
from alerts.policy import AlertDecision
from schemas.errors import ConfigError
from schemas.events import Reason

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
POLICY = OfferPolicy.load()
DRIVERS = ("service", "price_value", "product_fit", "disengagement")


def choose(**kw):
    args = dict(driver="service", alert_id="al-1", value_segment="mid", preferred_channel="web",
                marketing_consent=True, customer_id="c-1", now=NOW, control_share=0.0, approval_above=100.0)
    args.update(kw)
    return choose_offer(POLICY, **args)


@pytest.mark.parametrize("kind", ["retention", "win_back"])
@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("segment", ["high", "mid", "low"])
def test_default_policy_covers_every_driver_and_segment(kind, driver, segment):
    rule = POLICY.rule(kind, driver, segment)
    assert rule is not None and rule.reason
    assert (rule.value > 0) == rule.monetary


def test_defaults_follow_value_segments():
    assert POLICY.rule("retention", "service", "high").offer_type == "account_manager_call"
    assert POLICY.rule("retention", "service", "mid").offer_type == "apology_service_credit"
    assert POLICY.rule("retention", "price_value", "mid").offer_type == "targeted_discount"
    for driver in DRIVERS:  # low-value customers get a light touch, no money
        low = POLICY.rule("retention", driver, "low")
        assert low.value == 0 and not low.monetary and set(low.channels) <= {"email", "push", "in_app"}


def test_no_consent_no_offer():
    skip = choose(marketing_consent=False)
    assert isinstance(skip, Skip) and "consent" in skip.reason


@pytest.mark.parametrize("preferred, channel", [("app", "push"), ("web", "email"), ("store", "sms"),
                                                ("other", "email"), (None, "email")])
def test_channel_follows_customer_where_rule_allows(preferred, channel):
    assert choose(preferred_channel=preferred).channel == channel  # mid service allows email, push, sms


def test_channel_falls_back_to_rules_first_when_not_allowed():
    plan = choose(value_segment="high", preferred_channel="app")  # account-manager call: phone only
    assert plan.channel == "phone" and plan.value == 0 and not plan.monetary


def test_control_share_is_near_configured_on_10000_ids_and_deterministic():
    ids = [f"cust-{i:06d}" for i in range(10_000)]
    share = sum(in_control_group(c, 0.10) for c in ids) / len(ids)
    assert abs(share - 0.10) <= 0.02
    assert [in_control_group(c, 0.10) for c in ids[:500]] == [in_control_group(c, 0.10) for c in ids[:500]]
    # a larger share keeps the customers already held out
    assert all(in_control_group(c, 0.2) for c in ids if in_control_group(c, 0.1))


def test_control_plan_is_held_out():
    control = next(f"c-{i}" for i in range(1000) if in_control_group(f"c-{i}", 0.1))
    plan = choose(customer_id=control, control_share=0.1)
    assert plan.control_group and plan.status == "held_out"
    assert not choose(customer_id=control, control_share=0.0).control_group


def test_value_above_approval_waits_for_an_agent():
    assert choose(approval_above=5.0).status == "pending_approval"
    assert choose(approval_above=10.0).status == "send"  # value 10 is not above 10


def test_offer_id_stable_per_alert_and_kind():
    a, b = choose(), choose(now=NOW + timedelta(hours=1))
    assert a.offer_id == b.offer_id
    assert choose(alert_id="al-2").offer_id != a.offer_id
    assert choose(kind="win_back").offer_id != a.offer_id


def test_from_decision_uses_its_driver_alert_and_top_reason():
    reason = Reason(feature="return_share", value=0.4, contribution=0.3, text="Returned 40% of orders")
    d = AlertDecision(alert_id="al-9", tier="high", previous_tier="watch", score=0.8, reasons=(reason,),
                      driver="product_fit", episode_id="ep-1")
    plan = choose(driver=None, alert_id=None, decision=d)
    assert plan.alert_id == "al-9" and plan.offer_type == "free_returns" and reason.text in plan.reason


def test_win_back_rules():
    plan = choose(kind="win_back", value_segment="high")
    assert plan.kind == "win_back" and plan.offer_type == "win_back_call"


def test_build_offer_expires_from_event_time():
    plan = choose()
    offer = build_offer(plan, created_at=NOW + timedelta(seconds=2))
    assert offer.offer_id == plan.offer_id and offer.occurred_at == NOW
    assert offer.expires_at == NOW + timedelta(days=plan.expiry_days)
    assert OfferPlan.from_json(plan.to_json()) == plan


def _write(tmp_path, doc):
    path = tmp_path / "policy.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def test_custom_file_with_wildcards(tmp_path):
    doc = {"version": 1, "caps": {"contacts_per_customer": 1}, "channels": {"app": ["push"]},
           "retention": {"*": {"*": {"offer_type": "hello", "channels": ["email", "push"]}},
                         "service": {"high": {"offer_type": "call", "channels": ["phone"]}}}}
    pol = OfferPolicy.load(_write(tmp_path, doc))
    assert pol.caps.contacts_per_customer == 1
    assert pol.rule("retention", "service", "high").offer_type == "call"
    assert pol.rule("retention", "service", "low").offer_type == "hello"
    assert pol.rule("win_back", "service", "low") is None
    plan = choose_offer(pol, driver="service", alert_id="a", value_segment="low", preferred_channel="app",
                        marketing_consent=True, customer_id="c", now=NOW, kind="win_back")
    assert isinstance(plan, Skip) and "win_back" in plan.reason


@pytest.mark.parametrize("mutate, key", [
    (lambda d: d["caps"].update(contacts_per_customer=-1), "caps.contacts_per_customer"),
    (lambda d: d["caps"].update(max_calls=3), "caps.max_calls"),
    (lambda d: d["retention"]["service"]["mid"].update(channels=["pigeon"]), "retention.service.mid.channels.0"),
    (lambda d: d["retention"]["service"]["mid"].pop("offer_type"), "retention.service.mid.offer_type"),
    (lambda d: d["retention"].update(grumpiness={}), "retention.grumpiness"),
    (lambda d: d.update(extras=1), "extras"),
])
def test_invalid_file_names_the_bad_key(tmp_path, mutate, key):
    doc = yaml.safe_load(open(__import__("alerts").__path__[0] + "/default_policy.yaml"))
    mutate(doc)
    with pytest.raises(ConfigError, match=f"'{key}'"):
        OfferPolicy.load(_write(tmp_path, doc))


def test_unreadable_or_broken_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        OfferPolicy.load(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="YAML"):
        OfferPolicy.load(_write(tmp_path, "retention: [unclosed"))


def test_readme_policy_example_loads_and_means_what_the_readme_says(tmp_path):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Offer policy", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "policy.yaml"
    path.write_text(example)
    policy = OfferPolicy.load(path)
    assert policy.rule("retention", "service", "high").offer_type == "account_manager_call"
    assert policy.rule("retention", "service", "mid").offer_type == "apology_service_credit"
    assert policy.rule("retention", "price_value", "low").offer_type == "reengagement_nudge"  # the "*" fallback
    assert policy.rule("win_back", "service", "high").offer_type == "win_back_email"
    assert (policy.caps.contacts_per_customer, policy.caps.contact_window_days) == (2, 30)
