"""Faust agents and timers; each registers itself on an app given the runtime."""
