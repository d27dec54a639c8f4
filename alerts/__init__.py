"""Alert policy: tiers, one alert per risk episode, drivers, retention offers, caps, control groups and the uplift report.

See docs/POLICY.md.
"""
