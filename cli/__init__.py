"""The ``churn-alert`` command line: the entry point, the short commands, the demo and the worker."""
