"""Build the pure engine from settings: the stream (``streams.bootstrap``) and the
backtest (``engine.backtest``) take their processor and tier goal from here, so both
decide with the same values."""

from __future__ import annotations

from alerts.offers import OfferPolicy
from alerts.tiers import Tiers
from config.settings import Settings
from engine.processor import OfferRules, Processor
from models.scorer import Scorer


def tiers_from(settings: Settings) -> Tiers:
    return Tiers(settings.threshold_watch, settings.threshold_high, settings.threshold_critical, settings.hysteresis)


def tier_goal(settings: Settings) -> dict[str, float] | None:
    """What the learner sets tier thresholds for (``None``: fixed thresholds).

    >>> tier_goal(Settings(tier_mode="capacity", tier_daily_capacity=50))
    {'daily_capacity': 50.0}
    >>> tier_goal(Settings())
    {'top_share': 0.1}
    """
    if settings.tier_mode == "share":
        return {"top_share": settings.tier_top_share}
    if settings.tier_mode == "precision":
        return {"target_precision": settings.tier_target_precision}
    if settings.tier_mode == "capacity":
        return {"daily_capacity": settings.tier_daily_capacity}
    return None


def processor_from(settings: Settings, scorer: Scorer) -> Processor:
    """The processor the worker and the backtest both run: tiers, horizons and the offer rules
    (the policy file is loaded here; a bad one raises ``ConfigError`` naming the key)."""
    rules = OfferRules(OfferPolicy.load(settings.policy_file), control_share=settings.control_share,
                       approval_above=settings.approval_above)
    if settings.app_features:  # a configured vocabulary of app features overrides the learnt one
        from models.vocabulary import Vocabulary

        scorer.vocabulary = Vocabulary.of(settings.app_features.split(","))
    return Processor(scorer=scorer, tiers=tiers_from(settings), horizon_days=settings.horizon_days,
                     snapshot_interval_days=settings.snapshot_interval_days, cooldown_days=settings.cooldown_days,
                     offers=rules, label_rule=settings.label_rule)
