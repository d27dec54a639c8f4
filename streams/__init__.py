"""Runtime: settings, composition root, embedded services, the Faust app and its agents, CLI."""
