"""Configuration: the one ``Settings`` object, read from ``CHURN_*`` variables."""
