"""The pure per-customer decision path (state → features → score → alert and offer decisions)
and the in-process backtest that runs it over recorded events, shared by the stream."""
