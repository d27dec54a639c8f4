"""A small HTTP client for the team service in tests: requests as a role, waits on the API."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Api:
    url: str
    tokens: dict[str, str]
    proc: Any = None

    def request(self, method: str, path: str, role: str | None = "agent", **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {})
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return httpx.request(method, self.url + path, headers=headers, timeout=15, **kw)

    def get(self, path: str, role: str | None = "agent", **kw: Any) -> httpx.Response:
        return self.request("GET", path, role, **kw)

    def post(self, path: str, role: str | None = "agent", **kw: Any) -> httpx.Response:
        return self.request("POST", path, role, **kw)

    def wait(self, path: str, cond, what: str, role: str = "agent", deadline_s: float = 90.0) -> Any:  # noqa: ANN001
        """Poll GET ``path`` until ``cond(json)`` holds; returns that JSON."""
        end, last = time.monotonic() + deadline_s, None
        while time.monotonic() < end:
            if self.proc is not None:
                assert self.proc.alive(), f"team service died:\n{self.proc.log_tail()}"
            resp = self.get(path, role)
            if resp.status_code == 200:
                last = resp.json()
                if cond(last):
                    return last
            time.sleep(0.2)  # polling with a deadline
        log = self.proc.log_tail() if self.proc is not None else ""
        raise AssertionError(f"{what}: not within {deadline_s}s; last answer {str(last)[:500]}\n{log}")
