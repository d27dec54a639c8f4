"""Per-customer state, churn features, silence checkpoints and the model around them.

Pure modules: ``state`` (bounded per-customer state), ``catalogue`` and ``features``
(the feature catalogue and its computation), ``silence`` (silence checkpoints and the
per-partition due index).
"""
