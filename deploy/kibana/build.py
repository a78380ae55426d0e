"""Write `sada.ndjson`, Sada's Kibana saved objects (Kibana 8.x export format), from the panel
definitions below: Lens's stored state repeats every column and JSON-encodes whole attributes,
which is easy to get subtly wrong by hand and easy to build.

Every id and index title starts with the namespace `sada-`, so one `sed 's/sada-/<ns>-/g'`
moves the whole set to another namespace (README.md). Run `python deploy/kibana/build.py` after
changing a panel; tests/deploy/test_kibana.py checks the file is up to date and every panel
against the real mapping and data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("sada.ndjson")
NS = "sada"
MENTIONS, ALERTS = f"{NS}-mentions", f"{NS}-alerts"  # the group aliases, also the data view ids
LAYER = "layer1"
CORE_VERSION = "8.8.0"
TYPE_VERSION = {"index-pattern": "8.0.0", "search": "8.0.0", "lens": "8.9.0", "dashboard": "8.9.0"}

Column = dict[str, Any]


def _obj(kind: str, oid: str, attributes: dict[str, Any], references: list[Any]) -> dict[str, Any]:
    return {
        "attributes": attributes,
        "coreMigrationVersion": CORE_VERSION,
        "id": oid,
        "managed": False,
        "references": references,
        "type": kind,
        "typeMigrationVersion": TYPE_VERSION[kind],
    }


def _ref(view: str, name: str) -> dict[str, str]:
    return {"id": view, "name": name, "type": "index-pattern"}


def _search_source(query: str, indexed: bool) -> dict[str, str]:
    source: dict[str, Any] = {"query": {"query": query, "language": "kuery"}, "filter": []}
    if indexed:
        source["indexRefName"] = "kibanaSavedObjectMeta.searchSourceJSON.index"
    return {"searchSourceJSON": json.dumps(source)}


def data_view(view: str, name: str, time_field: str, formats: dict[str, Any]) -> dict[str, Any]:
    return _obj(
        "index-pattern",
        view,
        {
            "allowHidden": False,
            "fieldAttrs": "{}",
            "fieldFormatMap": json.dumps(formats),
            "fields": "[]",
            "name": name,
            "runtimeFieldMap": "{}",
            "sourceFilters": "[]",
            "timeFieldName": time_field,
            "title": view,
            "typeMeta": "{}",
        },
        [],
    )


def saved_search(
    oid: str, title: str, view: str, query: str, columns: list[str], sort: str
) -> dict[str, Any]:
    return _obj(
        "search",
        oid,
        {
            "title": title,
            "description": "",
            "columns": columns,
            "sort": [[sort, "desc"]],
            "grid": {},
            "hideChart": False,
            "isTextBasedQuery": False,
            "kibanaSavedObjectMeta": _search_source(query, indexed=True),
        },
        [_ref(view, "kibanaSavedObjectMeta.searchSourceJSON.index")],
    )


# -- Lens columns ----------------------------------------------------------------------------


def date_histogram(field: str) -> Column:
    return {
        "label": field,
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": field,
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def terms(field: str, size: int, order_by: str) -> Column:
    """Top `size` values of `field`, ranked by the metric column `order_by`."""
    return {
        "label": f"Top {size} values of {field}",
        "dataType": "string",
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": order_by},
            "orderDirection": "desc",
            "otherBucket": True,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
        },
    }


def count(label: str) -> Column:
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": "count",
        "sourceField": "___records___",
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }


def metric(operation: str, field: str, label: str) -> Column:
    """`max`, `sum`, `average` or `unique_count` of a field."""
    return count(label) | {"operationType": operation, "sourceField": field}


def lens(
    oid: str,
    title: str,
    view: str,
    columns: dict[str, Column],
    visualization: dict[str, Any],
    kind: str,
    query: str = "",
) -> dict[str, Any]:
    """A Lens visualization of one layer; `columns` in nesting order (buckets, then metrics)."""
    layer = {"columnOrder": list(columns), "columns": columns, "incompleteColumns": {}}
    state = {
        "adHocDataViews": {},
        "datasourceStates": {"formBased": {"layers": {LAYER: layer}}, "textBased": {"layers": {}}},
        "filters": [],
        "internalReferences": [],
        "query": {"language": "kuery", "query": query},
        "visualization": visualization,
    }
    return _obj(
        "lens",
        oid,
        {"title": title, "description": "", "visualizationType": kind, "state": state},
        [_ref(view, "indexpattern-datasource-current-indexpattern"),
         _ref(view, f"indexpattern-datasource-layer-{LAYER}")],
    )  # fmt: skip


def xy(
    oid: str,
    title: str,
    view: str,
    x: Column,
    split: Column | None,
    y: Column,
    series: str,
    query: str = "",
) -> dict[str, Any]:
    """A bar, area or line chart: `y` over `x`, one series per value of `split`."""
    columns = ({"split": split} if split else {}) | {"x": x, "y": y}
    layer = {"layerId": LAYER, "layerType": "data", "seriesType": series, "xAccessor": "x",
             "accessors": ["y"]} | ({"splitAccessor": "split"} if split else {})  # fmt: skip
    visualization = {
        "legend": {"isVisible": True, "position": "right"},
        "valueLabels": "hide",
        "fittingFunction": "None",
        "preferredSeriesType": series,
        "layers": [layer],
    }
    return lens(oid, title, view, columns, visualization, "lnsXY", query)


def donut(oid: str, title: str, view: str, field: str, query: str = "") -> dict[str, Any]:
    columns = {"group": terms(field, 10, "size"), "size": count("Mentions")}
    visualization = {
        "shape": "donut",
        "layers": [{"layerId": LAYER, "layerType": "data", "primaryGroups": ["group"],
                    "metrics": ["size"], "numberDisplay": "percent", "categoryDisplay": "default",
                    "legendDisplay": "default", "nestedLegend": False}],
    }  # fmt: skip
    return lens(oid, title, view, columns, visualization, "lnsPie", query)


def table(oid: str, title: str, view: str, columns: dict[str, Column]) -> dict[str, Any]:
    visualization = {
        "layerId": LAYER,
        "layerType": "data",
        "columns": [{"columnId": column} for column in columns],
    }
    return lens(oid, title, view, columns, visualization, "lnsDatatable")


def dashboard(
    oid: str, title: str, description: str, panels: list[dict[str, Any]]
) -> dict[str, Any]:
    """Panels two to a row, each by reference to its saved object."""
    placed = [
        {
            "type": panel["type"],
            "panelIndex": str(i),
            "panelRefName": f"panel_{i}",
            "gridData": {"x": 24 * (i % 2), "y": 15 * (i // 2), "w": 24, "h": 15, "i": str(i)},
            "embeddableConfig": {"enhancements": {}},
        }
        for i, panel in enumerate(panels)
    ]
    return _obj(
        "dashboard",
        oid,
        {
            "title": title,
            "description": description,
            "panelsJSON": json.dumps(placed),
            "optionsJSON": json.dumps({"useMargins": True, "syncColors": True,
                                       "syncCursor": True, "syncTooltips": False,
                                       "hidePanelTitles": False}),
            "timeRestore": True,
            "timeFrom": "now-7d",
            "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 60000},
            "version": 1,
            "kibanaSavedObjectMeta": _search_source("", indexed=False),
        },
        [{"id": panel["id"], "name": f"{i}:panel_{i}", "type": panel["type"]}
         for i, panel in enumerate(panels)],
    )  # fmt: skip


# -- Sada's objects --------------------------------------------------------------------------

TO_ANSWER = "triage:(complaint or question)"
BY_TIME = date_histogram("created_at")


def objects() -> list[dict[str, Any]]:
    """Data views first, then each dashboard after the objects it shows (import order)."""
    by = f"{NS}-lens"
    overview = [
        xy(f"{by}-volume-by-brand", "Mentions over time by brand", MENTIONS, BY_TIME,
           terms("brand_key", 10, "y"), count("Mentions"), "bar_stacked"),
        xy(f"{by}-sentiment-share", "Sentiment share over time (negative share)", MENTIONS,
           BY_TIME, terms("sentiment.label", 3, "y"), count("Mentions"),
           "area_percentage_stacked"),
        xy(f"{by}-sentiment-by-brand", "Sentiment by brand", MENTIONS,
           terms("brand_key", 20, "y"), terms("sentiment.label", 3, "y"), count("Mentions"),
           "bar_percentage_stacked"),
        donut(f"{by}-sentiment-split", "Sentiment split", MENTIONS, "sentiment.label"),
        xy(f"{by}-triage-by-brand", "Complaints, questions and praise by brand", MENTIONS,
           terms("brand_key", 20, "y"), terms("triage", 4, "y"), count("Mentions"),
           "bar_stacked"),
    ]  # fmt: skip
    alerts_table = saved_search(
        f"{NS}-search-alerts", "Alerts with their explanation", ALERTS, "",
        ["client", "brand", "kind", "severity", "status", "observed", "expected", "score",
         "explanation"], "window_start",
    )  # fmt: skip
    crisis = [
        xy(f"{by}-alerts-by-kind", "Alerts over time by kind", ALERTS, date_histogram("window_start"),
           terms("kind", 3, "y"), count("Alerts"), "bar_stacked"),
        xy(f"{by}-alerts-by-severity", "Alerts over time by severity", ALERTS,
           date_histogram("window_start"), terms("severity", 3, "y"), count("Alerts"),
           "bar_stacked"),
        xy(f"{by}-alert-score-by-brand", "Highest alert score by brand", ALERTS,
           terms("brand", 20, "y"), None, metric("max", "score", "Highest score"), "bar"),
        alerts_table,
    ]  # fmt: skip
    share = [
        xy(f"{by}-share-by-client", "Share of voice within each client", MENTIONS,
           terms("client", 20, "y"), terms("brand", 20, "y"), count("Mentions"),
           "bar_percentage_stacked"),
        xy(f"{by}-share-over-time", "Share of voice over time", MENTIONS, BY_TIME,
           terms("brand_key", 10, "y"), count("Mentions"), "area_percentage_stacked"),
        donut(f"{by}-share-split", "Mentions by brand", MENTIONS, "brand_key"),
    ]  # fmt: skip
    to_answer = saved_search(
        f"{NS}-search-to-answer", "Complaints and questions to answer", MENTIONS, TO_ANSWER,
        ["text", "author.handle", "author.followers", "brand", "source", "sentiment.label",
         "triage", "url"], "created_at",
    )  # fmt: skip
    complaints = [
        to_answer,
        xy(f"{by}-to-answer-by-brand", "To answer by brand", MENTIONS,
           terms("brand_key", 20, "y"), terms("triage", 2, "y"), count("Mentions"),
           "bar_stacked", TO_ANSWER),
        xy(f"{by}-to-answer-over-time", "To answer over time", MENTIONS, BY_TIME,
           terms("triage", 2, "y"), count("Mentions"), "bar_stacked", TO_ANSWER),
    ]  # fmt: skip
    audience = [
        donut(f"{by}-languages", "Languages (ar, arz: Arabizi, en, fr)", MENTIONS, "language"),
        donut(f"{by}-sources", "Sources", MENTIONS, "source"),
        xy(f"{by}-languages-by-brand", "Languages by brand", MENTIONS,
           terms("brand_key", 20, "y"), terms("language", 5, "y"), count("Mentions"),
           "bar_percentage_stacked"),
    ]  # fmt: skip
    authors = [
        table(f"{by}-authors-by-reach", "Top authors by reach", MENTIONS,
              {"author": terms("author.handle", 20, "followers"),
               "followers": metric("max", "author.followers", "Followers"),
               "mentions": count("Mentions"),
               "likes": metric("sum", "engagement.likes", "Likes")}),
        table(f"{by}-authors-by-count", "Most active authors", MENTIONS,
              {"author": terms("author.handle", 20, "mentions"), "mentions": count("Mentions"),
               "brands": metric("unique_count", "brand_key", "Brands"),
               "followers": metric("max", "author.followers", "Followers")}),
    ]  # fmt: skip
    boards = [
        ("brand-overview", "Sada: brand overview", "Volume, negative share, sentiment and "
         "triage per brand.", overview),
        ("crisis-timeline", "Sada: crisis timeline", "Alerts over time by kind and severity, "
         "and each alert with what was observed, expected and why.", crisis),
        ("share-of-voice", "Sada: share of voice", "Each brand's share of its client's "
         "mentions; filter on client to compare one client's brands.", share),
        ("complaints", "Sada: complaints to answer", "Complaints and questions, newest first, "
         "with text, author, brand, source and sentiment.", complaints),
        ("audience", "Sada: audience", "Languages (Arabizi as arz) and sources.", audience),
        ("top-authors", "Sada: top authors", "Authors by followers and by mentions.", authors),
    ]  # fmt: skip
    found = [
        data_view(MENTIONS, "Sada mentions", "created_at", {"url": {"id": "url", "params": {}}}),
        data_view(ALERTS, "Sada alerts", "window_start", {}),
    ]
    for slug, title, description, panels in boards:
        found += panels + [dashboard(f"{NS}-dashboard-{slug}", title, description, panels)]
    return found


def render() -> str:
    return "".join(json.dumps(o, ensure_ascii=False, sort_keys=True) + "\n" for o in objects())


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
