"""Bundles: ``searchset`` pages for the API, ``collection`` files for exports.

An export is a ``collection`` (a set of resources with no further meaning), not a ``document``:
a document needs a Composition written for a reader, which Nabd does not author. Exports are
written entry by entry, each resource already validated, so a patient-week of data never sits in
memory as one model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource

from nabd.interop.fhir.mapping import instant


def full_url(base_url: str, resource: Resource) -> str:
    return f"{base_url}/{resource.get_resource_type()}/{resource.id}"


def searchset(
    resources: Iterable[Resource],
    *,
    base_url: str,
    self_url: str,
    next_url: str | None,
    outcome: Resource | None = None,
) -> Bundle:
    """One page of search results, with ``self`` and (when there is more) ``next`` links, and
    an OperationOutcome entry (search mode ``outcome``) when the server has something to say
    about the search itself, such as parameters it ignored."""
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    entries: list[dict[str, Any]] = [
        {"fullUrl": full_url(base_url, r), "resource": r, "search": {"mode": "match"}}
        for r in resources
    ]
    if outcome is not None:
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    return Bundle.model_validate(
        {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
    )


def write_collection(
    out: IO[str],
    resources: Iterable[Resource],
    *,
    base_url: str,
    bundle_id: str,
    timestamp: datetime,
) -> int:
    """Write a ``collection`` Bundle of ``resources`` as JSON; return how many were written."""
    head = {"resourceType": "Bundle", "id": bundle_id, "type": "collection"}
    out.write(json.dumps(head)[:-1] + f', "timestamp": {json.dumps(instant(timestamp))}')
    out.write(', "entry": [')
    count = 0
    for resource in resources:
        out.write(",\n" if count else "\n")
        out.write(f'{{"fullUrl": {json.dumps(full_url(base_url, resource))}, "resource": ')
        out.write(resource.model_dump_json())
        out.write("}")
        count += 1
    out.write("\n]}\n")
    return count
