def test_up(api):
    api.wait("/readyz", lambda j: j["ready"], "ready", role=None, deadline_s=20)
    assert api.get("/api/me").json() == {"name": "test-agent", "role": "agent"}
    assert api.get("/api/me", None).status_code == 401
    assert api.get("/api/tokens").status_code == 403
