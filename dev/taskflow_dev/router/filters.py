"""The Trigger filter dialects of Knative Eventing (the `spec.filters` subscriptions API and the
legacy `spec.filter.attributes`), compiled to predicates over a CloudEvent's attributes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

Attributes = Mapping[str, str]
EventFilter = Callable[[Attributes], bool]


class FilterError(ValueError):
    pass


def _string_match(
    spec: Any, where: str, dialect: str, test: Callable[[str, str], bool]
) -> EventFilter:
    if not isinstance(spec, dict) or not spec:
        raise FilterError(f"{where}: {dialect} needs a map of attribute to value")
    expected = {str(name): str(value) for name, value in spec.items()}

    def matches(attributes: Attributes) -> bool:
        return all(
            name in attributes and test(attributes[name], value) for name, value in expected.items()
        )

    return matches


def _compile(spec: Any, where: str) -> EventFilter:
    if not isinstance(spec, dict) or len(spec) != 1:
        raise FilterError(f"{where}: each filter must have exactly one dialect")
    ((dialect, body),) = spec.items()
    if dialect == "exact":
        return _string_match(body, where, dialect, str.__eq__)
    if dialect == "prefix":
        return _string_match(body, where, dialect, str.startswith)
    if dialect == "suffix":
        return _string_match(body, where, dialect, str.endswith)
    if dialect == "all":
        return _all(_compile_list(body, where))
    if dialect == "any":
        alternatives = _compile_list(body, where)
        return lambda attributes: any(matches(attributes) for matches in alternatives)
    if dialect == "not":
        negated = _compile(body, where)
        return lambda attributes: not negated(attributes)
    raise FilterError(f"{where}: filter dialect {dialect!r} is not supported locally")


def _compile_list(specs: Any, where: str) -> list[EventFilter]:
    if not isinstance(specs, list):
        raise FilterError(f"{where}: expected a list of filters")
    return [_compile(spec, where) for spec in specs]


def _all(filters: Sequence[EventFilter]) -> EventFilter:
    return lambda attributes: all(matches(attributes) for matches in filters)


def compile_filters(specs: Any, where: str) -> EventFilter:
    """`spec.filters`: every filter in the list must match (an empty list matches everything)."""
    return _all(_compile_list(specs, where))


def compile_legacy_filter(attributes_spec: Mapping[str, Any]) -> EventFilter:
    """`spec.filter.attributes`: exact matches; an empty value means "any value" (Knative's
    TriggerAnyFilter) and is not checked at all."""
    expected = {
        str(name): str(value) for name, value in (attributes_spec or {}).items() if value != ""
    }

    def matches(attributes: Attributes) -> bool:
        return all(attributes.get(name) == value for name, value in expected.items())

    return matches
