"""Debian's chromium, driven by Playwright (Playwright's own browser download does not
work everywhere; the system package does). ``make test`` installs it when missing."""

from __future__ import annotations

import os

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def launch(playwright):  # noqa: ANN001, ANN201
    if not os.access(CHROMIUM, os.X_OK):
        raise AssertionError(f"{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
