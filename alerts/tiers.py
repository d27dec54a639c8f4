"""Risk tiers with hysteresis (thresholds set from labels come from ``models.thresholds``).

A tier is entered at or above its threshold and left only below
``threshold - hysteresis``, so a score wobbling around a threshold does not flap.

>>> t = Tiers(watch=0.5, high=0.7, critical=0.85, hysteresis=0.05)
>>> t.next_tier("none", 0.72), t.next_tier("high", 0.67), t.next_tier("high", 0.64)
('high', 'high', 'watch')
>>> t.next_tier("critical", 0.2)
'none'
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.errors import ConfigError
from schemas.events import TIERS, Tier

RANK: dict[str, int] = {name: i for i, name in enumerate(TIERS)}


@dataclass(frozen=True, slots=True)
class Tiers:
    """Enter thresholds of ``watch < high < critical`` and the exit margin."""

    watch: float = 0.5
    high: float = 0.7
    critical: float = 0.85
    hysteresis: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 <= self.watch < self.high < self.critical <= 1.0:
            raise ConfigError(f"tiers: need 0 <= watch < high < critical <= 1, got {self.watch}, {self.high}, {self.critical}")
        if not 0.0 <= self.hysteresis < 0.5:
            raise ConfigError(f"tiers: hysteresis must be in [0, 0.5), got {self.hysteresis}")

    def threshold(self, tier: Tier) -> float:
        """Enter threshold of ``tier`` (0 for ``none``)."""
        return 0.0 if tier == "none" else getattr(self, tier)

    def next_tier(self, current: Tier, score: float) -> Tier:
        """Tier after seeing ``score`` while in ``current``; may drop several tiers at once."""
        entered: Tier = ("critical" if score >= self.critical else "high" if score >= self.high
                         else "watch" if score >= self.watch else "none")
        if entered == current or RANK[entered] > RANK[current]:
            return entered
        for tier in TIERS[RANK[current]:0:-1]:  # current, then each lower tier, hold within the margin
            if score >= self.threshold(tier) - self.hysteresis:
                return tier  # type: ignore[return-value]
        return "none"
