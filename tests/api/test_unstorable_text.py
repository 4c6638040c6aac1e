"""Lone surrogates and NUL (issue 12, item 4) get the same 422 on SQLite and PostgreSQL, where
NUL used to be stored by one and refused with error 22021 by the other, and write nothing."""

from __future__ import annotations

import pytest
from api_helpers import sign_up


@pytest.mark.parametrize("text", ["\ud800", "a\x00b"], ids=["lone-surrogate", "nul"])
def test_unstorable_text_is_refused_alike_on_both_databases(client, text) -> None:
    account = sign_up(client)
    writes = [
        ("post", account.tasks_url, {"title": text}, "title"),
        ("post", account.tasks_url, {"title": "t", "description": text}, "description"),
        ("post", account.tasks_url, {"title": "t", "tags": [text]}, "tags"),
        ("post", account.tasks_url, {"text": f"call {text} tomorrow"}, "text"),
        ("patch", "/api/me", {"timezone": text}, "timezone"),
    ]
    for method, url, body, field in writes:
        answer = getattr(client, method)(url, json=body, headers=account.headers)
        assert answer.status_code == 422, (field, answer.status_code, answer.get_json())
        assert answer.get_json()["error"]["field"] == field
        assert "NUL" in answer.get_json()["error"]["reason"]
    signup = client.post("/api/auth/signup", json={"email": text, "password": "long enough pw"})
    assert (signup.status_code, signup.get_json()["error"]["field"]) == (422, "email")
    listed = client.get(account.tasks_url, headers=account.headers).get_json()
    assert listed["total"] == 0
    assert client.get("/api/me", headers=account.headers).get_json()["timezone"] == "UTC"
