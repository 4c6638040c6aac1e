"""Turn Kubernetes API descriptions into the JSON Schemas kubeconform reads.

Two sources: the OpenAPI v2 document of Kubernetes itself (api/openapi-spec/swagger.json in the
k8s.io/kubernetes module) for the built-in kinds, and CustomResourceDefinitions (openAPIV3Schema)
for Knative, Dapr and Strimzi. Files land as <dir>/<group>/<kind>_<version>.json, matching the
kubeconform location template SCHEMA_LOCATION.

Strictness is added here, as kubeconform expects of "-strict" schemas: an object that lists its
properties accepts no others. That holds even where a CRD marks the object
x-kubernetes-preserve-unknown-fields (Knative does so on Trigger and Broker specs to let feature
flags add fields): the API server would keep a misspelt field there and ignore it silently, so
here a field the pinned release does not list is an error. An object listing no properties
stays open (Strimzi's `config`, annotations).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

SCHEMA_LOCATION = "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
Schema = dict[str, Any]
INT_OR_STRING: Schema = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
# Kubernetes quantities (cpu: 1, memory: 128Mi) are strings or numbers in YAML.
QUANTITY: Schema = {"anyOf": [{"type": "string"}, {"type": "number"}]}


def schema_file(directory: Path, api_version: str, kind: str) -> Path:
    """Where kubeconform looks for one kind: group = the part of apiVersion before '/'."""
    group, _, version = api_version.rpartition("/")
    return directory / (group or version) / f"{kind.lower()}_{version}.json"


def strict(node: Any) -> Any:
    """Copy of a schema where every object with listed properties forbids unlisted ones;
    x-kubernetes-int-or-string becomes string-or-integer."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: strict(value) for key, value in node.items()}
    if result.pop("x-kubernetes-int-or-string", False):
        result.pop("type", None)
        result.update(INT_OR_STRING)
    if result.get("format") == "int-or-string":
        result.pop("type", None)
        result.pop("format")
        result.update(INT_OR_STRING)
    if "properties" in result and "additionalProperties" not in result:
        result["additionalProperties"] = False
    return result


def crd_schemas(crd: dict[str, Any]) -> Iterator[tuple[str, str, Schema]]:
    """(apiVersion, kind, schema) for every served version of a CustomResourceDefinition."""
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    for version in crd["spec"]["versions"]:
        if not version.get("served", True):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            raise ValueError(f"{kind}.{group}/{version['name']} has no openAPIV3Schema")
        schema = strict(schema)
        # apiVersion, kind and metadata are implicit in a CRD's schema: allow them explicitly.
        properties = schema.setdefault("properties", {})
        properties.setdefault("apiVersion", {"type": "string"})
        properties.setdefault("kind", {"type": "string"})
        properties["metadata"] = {"type": "object"}
        yield f"{group}/{version['name']}", kind, schema


def crds_in(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every CustomResourceDefinition document in the given YAML files."""
    for path in paths:
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                yield document


def openapi_v2_schemas(swagger: dict[str, Any]) -> Iterator[tuple[str, str, Schema]]:
    """(apiVersion, kind, schema) for each kind of Kubernetes' OpenAPI v2 document. Each schema
    carries only the definitions it reaches, with $ref rewritten to point inside it."""
    definitions = {
        name: strict(_quantities(name, definition))
        for name, definition in swagger["definitions"].items()
    }
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            reached = _reachable(name, definitions)
            schema = {
                **definitions[name],
                "definitions": {ref: definitions[ref] for ref in reached},
            }
            yield api_version, gvk["kind"], schema


def _quantities(name: str, definition: Schema) -> Schema:
    if name.endswith(".api.resource.Quantity"):
        return {**QUANTITY, "description": definition.get("description", "")}
    return definition


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"].removeprefix("#/definitions/")
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _reachable(start: str, definitions: dict[str, Schema]) -> set[str]:
    seen: set[str] = set()
    pending = list(_refs(definitions[start]))
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(_refs(definitions[name]))
    return seen


def write_schemas(directory: Path, schemas: Iterable[tuple[str, str, Schema]]) -> int:
    count = 0
    for api_version, kind, schema in schemas:
        path = schema_file(directory, api_version, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema))
        count += 1
    return count
