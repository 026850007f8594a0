"""``mlspec graph``: the resource graph as Mermaid, Graphviz dot or JSON, for reviewers of a pull request."""

from __future__ import annotations

import json

from mlspec.contract.graph import Manifest


def render_graph(manifest: Manifest, output_format: str) -> str:
    if output_format == "json":
        return _json(manifest)
    if output_format == "dot":
        return _dot(manifest)
    return _mermaid(manifest)


def _json(manifest: Manifest) -> str:
    document = {
        "project": manifest.project,
        "environment": manifest.environment,
        "nodes": [
            {"address": str(r.address), "service": r.address.service, "kind": r.provider_type, "file": r.file}
            for r in manifest.resources
        ],
        "edges": [
            {"from": str(dep), "to": str(r.address)}
            for r in manifest.resources
            for dep in sorted(r.depends_on)
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def _node_id(index: int) -> str:
    return f"n{index}"


def _mermaid(manifest: Manifest) -> str:
    ids = {r.address: _node_id(i) for i, r in enumerate(manifest.resources)}
    lines = ["flowchart LR"]
    by_service: dict[str, list[str]] = {}
    for r in manifest.resources:
        label = str(r.address).replace('"', "#quot;")
        by_service.setdefault(r.address.service, []).append(f'    {ids[r.address]}["{label}"]')
    for service in sorted(by_service):
        lines.append(f"  subgraph {service}")
        lines.extend(by_service[service])
        lines.append("  end")
    for r in manifest.resources:
        for dep in sorted(r.depends_on):
            if dep in ids:
                lines.append(f"  {ids[dep]} --> {ids[r.address]}")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot(manifest: Manifest) -> str:
    lines = [
        f"digraph {_dot_quote(manifest.project + '/' + manifest.environment)} {{",
        "  rankdir=LR;",
        "  node [shape=box];",
    ]
    services = sorted({r.address.service for r in manifest.resources})
    for service in services:
        lines.append(f"  subgraph {_dot_quote('cluster_' + service)} {{")
        lines.append(f"    label={_dot_quote(service)};")
        for r in manifest.resources:
            if r.address.service == service:
                lines.append(f"    {_dot_quote(str(r.address))} [tooltip={_dot_quote(r.provider_type)}];")
        lines.append("  }")
    for r in manifest.resources:
        for dep in sorted(r.depends_on):
            lines.append(f"  {_dot_quote(str(dep))} -> {_dot_quote(str(r.address))};")
    lines.append("}")
    return "\n".join(lines) + "\n"
