"""The app around the routes: the OpenAPI document, health, the web page, and JSON errors."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from taskflow_dev.local.launch import free_port

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def create_task_url() -> str:
    """Nothing here writes tasks: no create-task process is needed."""
    return f"http://127.0.0.1:{free_port()}"


def _openapi_path(flask_rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", flask_rule)


def test_the_openapi_document_is_valid_openapi_3_1(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_route_is_documented_and_every_documented_route_exists(client):
    document = client.get("/openapi.json").get_json()
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }
    served = {
        (method, _openapi_path(rule.rule))
        for rule in client.application.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served == documented


def test_every_protected_operation_documents_401_and_every_user_path_403(client):
    document = client.get("/openapi.json").get_json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS or operation.get("security") == []:
                continue
            assert "401" in operation["responses"], (method, path)
            if path.startswith("/api/{user_id}"):
                assert "403" in operation["responses"], (method, path)


def test_healthz(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_the_web_page_is_served_at_the_root(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b"TaskFlow" in response.data


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO header


@pytest.mark.parametrize("path", ["/../pyproject.toml", "/%2e%2e/pyproject.toml", "/no-such.js"])
def test_files_outside_the_frontend_folder_are_not_served(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"[project]" not in response.data


def test_an_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/nothing/here/at/all")
    assert response.status_code == 404
    assert "reason" in response.get_json()["error"]


def test_a_wrong_method_is_a_json_405_with_allow(client, alice):
    response = client.delete(alice.tasks_url, headers=alice.headers)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert "reason" in response.get_json()["error"]


def test_a_body_over_64_kib_is_413_and_creates_nothing(client, alice):
    response = client.post(
        alice.tasks_url,
        data='{"title": "' + "x" * 70_000 + '"}',
        content_type="application/json",
        headers=alice.headers,
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["field"] == "body"
    listed = client.get(alice.tasks_url, headers=alice.headers).get_json()
    assert listed["total"] == 0
