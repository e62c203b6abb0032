"""schemathesis hooks for the platform API: the two deployment rules a JSON schema cannot state.

A deployment's route and shadow names are unique together, and several routes' weights add
up to 100 (both named in the schema's descriptions). JSON Schema has no keyword for
"unique by a property" or for a sum, so a schema-valid body may break them and be refused
(422). This hook repairs positive bodies before they are sent — renames repeated names,
splits 100 among the routes — so that "a valid request is accepted" is checked on the
requests that are valid. Negative bodies are left as drawn. Loaded through
``SCHEMATHESIS_HOOKS``.
"""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    operation = getattr(case, "operation", None)
    if operation is None or operation.method.upper() != "PUT":
        return case
    if not operation.path.endswith("/deployments/{name}"):
        return case
    meta = getattr(case, "meta", None)
    if meta is not None and not meta.generation.mode.is_positive:
        return case
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("routes"), list):
        return case
    routes = [r for r in body["routes"] if isinstance(r, dict)]
    shadows = [s for s in body.get("shadows", []) if isinstance(s, dict)]
    for index, item in enumerate([*routes, *shadows]):
        if isinstance(item.get("name"), str):
            item["name"] = f"{item['name'][:58]}-{index}"
    if len(routes) > 1:
        share, rest = divmod(100, len(routes))
        for index, route in enumerate(routes):
            route["weight"] = share + (rest if index == 0 else 0)
    elif routes and "weight" in routes[0]:
        routes[0]["weight"] = 100
    return case
