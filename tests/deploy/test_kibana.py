"""deploy/kibana/sada.ndjson without Kibana (it cannot be installed here): every object parses and
its references resolve; every field it uses is in the real mapping of the indices the sinks make,
aggregatable where a panel aggregates; and every panel's query and aggregation, translated to
the Elasticsearch request Kibana would send, finds data in the demo's stream scored by the real
processors and indexed by the real sinks. The file is moved to the test's namespace with the
README's substitution, so that is tested too."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core import connect
from core.config import Settings, load_config
from core.events import Alert, ScoredMention
from ingest import synthetic
from processors import detect
from processors.dedupe import Deduper
from processors.detect_state import BrandState
from processors.match import build_matcher
from processors.pipeline import process_batch
from sada import SAMPLE_CONFIG
from sinks.elasticsearch import ElasticsearchSink, R, alerts_sink, mentions_sink

KIBANA = Path(__file__).parents[2] / "deploy" / "kibana"
AGGREGATABLE = {"keyword", "long", "float", "date", "boolean"}
RECORDS = "___records___"  # Lens's "count of documents": no field
METRICS = {"max": "max", "sum": "sum", "average": "avg", "unique_count": "cardinality"}


@dataclass(frozen=True)
class Use:
    """A field an object uses, in which data view, and whether Kibana aggregates (or sorts) on it."""

    view: str
    field: str
    aggregated: bool
    where: str


def _objects(namespace: str = "sada", client: str | None = None) -> list[dict[str, Any]]:
    """The saved objects, moved to `namespace` as README.md's `sed 's/sada-/<ns>-/g'` does,
    and to one client's aliases as its `sed -E 's/"sada-(mentions|alerts)"/.../g'` does."""
    text = (KIBANA / "sada.ndjson").read_text(encoding="utf-8").replace("sada-", f"{namespace}-")
    if client:
        text = re.sub(rf'"{namespace}-(mentions|alerts)"', rf'"{namespace}-\1-{client}"', text)
    return [json.loads(line) for line in text.splitlines()]


def _kql(query: str) -> list[tuple[str, list[str]]]:
    """The KQL the objects use: `field:value` or `field:(a or b)` clauses joined by `and`."""
    clauses = []
    for clause in filter(None, query.split(" and ")):
        found = re.fullmatch(r"([\w.]+):(?:\((.+)\)|(\S+))", clause.strip())
        assert found, f"KQL {query!r}: {clause!r} is not field:value or field:(a or b)"
        field, several, one = found.groups()
        clauses.append((field, several.split(" or ") if several else [one]))
    return clauses


def _layer(lens: dict[str, Any]) -> dict[str, Any]:
    (layer,) = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"].values()
    return layer


def _source(obj: dict[str, Any]) -> dict[str, Any]:
    return json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def _uses(obj: dict[str, Any]) -> Iterator[Use]:
    """Every field an object names: time field and formats of a data view, columns, sort and
    query of a saved search, columns and query of a Lens panel."""
    where, attributes = f"{obj['type']} {obj['id']}", obj["attributes"]
    views = [r["id"] for r in obj["references"] if r["type"] == "index-pattern"]
    if obj["type"] == "index-pattern":
        yield Use(obj["id"], attributes["timeFieldName"], True, f"{where} time field")
        for field in json.loads(attributes["fieldFormatMap"]):
            yield Use(obj["id"], field, False, f"{where} format")
    elif obj["type"] == "search":
        for column in attributes["columns"]:
            yield Use(views[0], column, False, f"{where} column")
        for field, _direction in attributes["sort"]:
            yield Use(views[0], field, True, f"{where} sort")
        for field, _values in _kql(_source(obj)["query"]["query"]):
            yield Use(views[0], field, False, f"{where} query")
    elif obj["type"] == "lens":
        for cid, column in _layer(obj)["columns"].items():
            if column["sourceField"] != RECORDS:
                yield Use(views[0], column["sourceField"], True, f"{where} column {cid}")
        for field, _values in _kql(obj["attributes"]["state"]["query"]["query"]):
            yield Use(views[0], field, False, f"{where} query")
    else:
        assert obj["type"] == "dashboard", f"{where}: an unexpected type"
        assert _kql(_source(obj)["query"]["query"]) == []


@functools.cache
def _stream() -> tuple[list[ScoredMention], list[Alert]]:
    """The demo's synthetic stream scored by the real processors, and the alerts the real
    detector raises on it (the planted crisis)."""
    config = load_config(SAMPLE_CONFIG)
    mentions = list(synthetic.generate(synthetic.Config()))
    scored = [
        r for found in process_batch(mentions, build_matcher(config), Deduper()) for r in found
    ]
    detector = detect.Detector(config.detection)
    states: defaultdict[str, BrandState] = defaultdict(BrandState)
    alerts = [a for r in scored for _, a in detector.add(states[r.key], detect.observation(r))]
    assert alerts, "the demo stream raised no alert: the crisis dashboards would be empty"
    return scored, alerts


async def _index(settings: Settings, client: str | None) -> list[dict[str, Any]]:
    """Index the stream through the real sinks; return the saved objects moved to the
    settings' namespace (and to `client`'s aliases, if given)."""
    scored, alerts = _stream()
    await _fill(mentions_sink(settings), scored)
    await _fill(alerts_sink(settings), alerts)
    with connect.elasticsearch(settings) as es:
        es.indices.refresh(index=f"{settings.namespace}-*")
    return _objects(settings.namespace, client)


async def _fill(sink: ElasticsearchSink[R], records: list[R]) -> None:
    try:
        await sink.start()
        for start in range(0, len(records), 500):
            assert await sink.write(records[start : start + 500]) == []
    finally:
        await sink.close()


def _aliases(objects: list[dict[str, Any]]) -> dict[str, str]:
    """Each data view's id with the index pattern it reads (an alias)."""
    return {o["id"]: o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}


def _view(obj: dict[str, Any]) -> str:
    return next(r["id"] for r in obj["references"] if r["type"] == "index-pattern")


def _query(kql: str) -> dict[str, Any]:
    return {"bool": {"filter": [{"terms": {field: values}} for field, values in _kql(kql)]}}


def _bucket(columns: dict[str, Any], cid: str) -> dict[str, Any]:
    """The aggregation Kibana sends for a bucketed Lens column (`auto` intervals as hours)."""
    column = columns[cid]
    field = column["sourceField"]
    if column["operationType"] == "date_histogram":
        return {"date_histogram": {"field": field, "fixed_interval": "1h", "min_doc_count": 1}}
    assert column["operationType"] == "terms", f"column {cid}: no translation for {column}"
    params = column["params"]
    by = params["orderBy"]["columnId"]
    order = "_count" if columns[by]["operationType"] == "count" else by
    return {
        "terms": {
            "field": field,
            "size": params["size"],
            "order": {order: params["orderDirection"]},
        }
    }


def _lens_request(lens: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    """The search a Lens panel makes: its query, its bucket columns nested in column order
    around its metrics; with the bucket and metric column ids, to read the answer."""
    layer = _layer(lens)
    columns, order = layer["columns"], layer["columnOrder"]
    buckets = [c for c in order if columns[c]["isBucketed"]]
    metrics = [c for c in order if not columns[c]["isBucketed"]]
    aggs: dict[str, Any] = {
        c: {METRICS[columns[c]["operationType"]]: {"field": columns[c]["sourceField"]}}
        for c in metrics
        if columns[c]["operationType"] != "count"
    }
    for cid in reversed(buckets):
        aggs = {cid: _bucket(columns, cid) | ({"aggs": aggs} if aggs else {})}
    query = _query(lens["attributes"]["state"]["query"]["query"])
    return {"size": 0, "query": query, "aggs": aggs}, buckets, metrics


def _rows(node: dict[str, Any], buckets: list[str], metrics: list[str]) -> Iterator[dict[str, Any]]:
    """The table Lens draws from an aggregation answer: one row per innermost bucket."""
    if not buckets:
        yield {m: node[m]["value"] if m in node else node["doc_count"] for m in metrics}
        return
    for bucket in node[buckets[0]]["buckets"]:
        yield from _rows(bucket, buckets[1:], metrics)


def _types(es: Any, alias: str) -> dict[str, set[str]]:
    """Each field of the indices behind `alias`, by dotted path, with its types there."""
    found: dict[str, set[str]] = defaultdict(set)

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, field in properties.items():
            if "properties" in field:
                walk(field["properties"], f"{prefix}{name}.")
            else:
                found[prefix + name].add(field["type"])

    for index in es.indices.get_mapping(index=alias).body.values():
        walk(index["mappings"]["properties"], "")
    return found


def test_every_line_is_a_saved_object_whose_references_resolve() -> None:
    objects = _objects()
    by_key = {(o["type"], o["id"]): o for o in objects}
    assert len(by_key) == len(objects), "two objects share a type and id"
    assert {o["type"] for o in objects} == {"index-pattern", "search", "lens", "dashboard"}
    for obj in objects:
        assert obj["attributes"].get("title"), f"{obj['id']} has no title"
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in by_key, f"{obj['id']}: {ref} is not in the file"
        if obj["type"] == "dashboard":
            names = {r["name"] for r in obj["references"]}
            for panel in json.loads(obj["attributes"]["panelsJSON"]):
                assert f"{panel['panelIndex']}:{panel['panelRefName']}" in names, obj["id"]
    titles = {o["attributes"]["title"] for o in objects if o["type"] == "dashboard"}
    assert titles == {
        "Sada: brand overview",
        "Sada: crisis timeline",
        "Sada: share of voice",
        "Sada: complaints to answer",
        "Sada: audience",
        "Sada: top authors",
    }


def test_the_file_is_what_build_py_writes() -> None:
    spec = importlib.util.spec_from_file_location("kibana_build", KIBANA / "build.py")
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    written = (KIBANA / "sada.ndjson").read_text(encoding="utf-8")
    assert build.render() == written, "run `python deploy/kibana/build.py` and commit the result"


# The group aliases (operators), and one client's (a client's own Kibana space and login).
CLIENTS = pytest.mark.parametrize("client", [None, "northwind"])


@CLIENTS
async def test_every_field_is_in_the_real_mapping_and_aggregatable_where_aggregated(
    settings: Settings, client: str | None
) -> None:
    objects = await _index(settings, client)
    with connect.elasticsearch(settings) as es:
        types = {view: _types(es, alias) for view, alias in _aliases(objects).items()}
    uses = [use for obj in objects for use in _uses(obj)]
    problems = []
    for use in uses:
        found = types[use.view].get(use.field)
        if not found:
            problems.append(f"{use.where}: {use.field} is not in the mapping of {use.view}")
        elif use.aggregated and not found <= AGGREGATABLE:
            problems.append(f"{use.where}: {use.field} is {found}, which Kibana cannot aggregate")
    assert not problems, "\n".join(problems)
    assert {u.field for u in uses} >= {"created_at", "brand_key", "sentiment.label", "triage",
                                       "language", "source", "author.followers", "window_start",
                                       "kind", "severity", "explanation", "text"}  # fmt: skip


@CLIENTS
async def test_every_panel_finds_the_demo_data(settings: Settings, client: str | None) -> None:
    objects = await _index(settings, client)
    aliases = _aliases(objects)
    assert set(aliases.values()) == {f"{settings.namespace}-{kind}" + (f"-{client}" if client else "")
                                     for kind in ("mentions", "alerts")}  # fmt: skip
    empty = []
    with connect.elasticsearch(settings) as es:
        for obj in (o for o in objects if o["type"] in ("lens", "search")):
            index, title = aliases[_view(obj)], obj["attributes"]["title"]
            if obj["type"] == "lens":
                request, buckets, metrics = _lens_request(obj)
                assert buckets, f"{title}: a panel without buckets"
                answer = es.search(index=index, **request)
                rows = list(_rows(answer["aggregations"], buckets, metrics))
                if not rows or any(all(r[m] in (None, 0) for r in rows) for m in metrics):
                    empty.append(f"{title}: {request} gave {rows[:3]}")
            elif obj["type"] == "search":
                attributes = obj["attributes"]
                answer = es.search(
                    index=index,
                    query=_query(_source(obj)["query"]["query"]),
                    sort=[{field: direction} for field, direction in attributes["sort"]],
                    size=50,
                )
                hits = [_flat(h["_source"]) for h in answer["hits"]["hits"]]
                missing = [c for c in attributes["columns"] if not any(c in h for h in hits)]
                if not hits or missing:
                    empty.append(f"{title}: {len(hits)} hits, no value for {missing}")
    assert not empty, "\n".join(empty)


def _flat(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A document's fields by dotted path, as Discover shows them."""
    flat: dict[str, Any] = {}
    for name, value in document.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{name}.")
        elif value is not None:
            flat[prefix + name] = value
    return flat
