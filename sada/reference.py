"""The configuration reference, rendered from the config models: the models are the documentation.

Documents mark each table with `<!-- config:NAME -->` ... `<!-- /config -->`; `python -m
sada.reference` rewrites every marked table in docs/, and a test fails when a
model changed and the documents were not regenerated. Route kinds (core/config.py ROUTES) and
sources (ingest/catalog.py SOURCES) are listed from their registries: a new one gets its table
once its document has its marker, and the test says which marker is missing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined

from core.config import ROUTES, Address, Brand, Client, DetectionConfig, Route, SadaConfig, Settings
from ingest import http, rss
from ingest.catalog import SOURCES

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS: dict[Path, dict[str, type[BaseModel]]] = {
    REPO / "docs" / "configuration.md": {
        "settings": Settings,
        "clients-file": SadaConfig,
        "client": Client,
        "brand": Brand,
        **ROUTES,
        "detection": DetectionConfig,
    },
    REPO / "docs" / "ingest.md": {
        **{name: source.Config for name, source in SOURCES.items()},
        "rss.google_news": rss.GoogleNewsSearch,
        "http": http.HttpPolicy,
    },
}


ALIASES = {Route: "Route", Address: "str"}


def _type(annotation: object) -> str:
    text = (
        str(annotation)
        if "[" in str(annotation) or "|" in str(annotation)
        else getattr(annotation, "__name__", str(annotation))
    )
    for alias, name in ALIASES.items():  # annotated types print their validators: name them
        text = text.replace(str(alias), name)
    # Python 3.13 defines Path in pathlib._local
    return re.sub(
        r"\b(typing|pathlib(?:\._local)?|datetime|core\.config|ingest\.\w+|pydantic\.\w+|annotated_types)\.",
        "",
        text,
    )


def _default(info: object) -> str:
    default = getattr(info, "default", PydanticUndefined)
    if default is PydanticUndefined and getattr(info, "default_factory", None) is None:
        return "**required**"
    if isinstance(default, BaseModel):
        changed = ", ".join(
            f"`{k}={v!r}`" for k, v in default.model_dump(exclude_defaults=True).items()
        )
        return "its defaults" + (f" but {changed}" if changed else "")
    if isinstance(default, SecretStr):
        return "(secret)"
    if isinstance(default, Path):
        home = str(Path.home())
        return (
            f"`{str(default).replace(home, '~', 1) if str(default).startswith(home) else default}`"
        )
    return f"`{default!r}`"


def render(model: type[BaseModel]) -> str:
    """A Markdown table of the model's fields: name, type, default, description."""
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        description = (info.description or "").replace("|", "/")
        kind = _type(info.annotation).replace("|", "\\|")  # a bare | would end the cell
        rows.append(f"| `{name}` | `{kind}` | {_default(info)} | {description} |")
    return "\n".join(rows)


def rewrite(text: str, models: Mapping[str, type[BaseModel]]) -> str:
    """`text` with every marked table replaced by the current rendering of its model."""
    for name, model in models.items():
        pattern = re.compile(
            rf"(<!-- config:{re.escape(name)} -->\n)(?:.*?\n)??(<!-- /config -->)", re.S
        )
        table = render(model).replace("\\", "\\\\")
        text = pattern.sub(rf"\g<1>{table}\n\g<2>", text)
    return text


def main() -> None:
    for path, models in DOCUMENTS.items():
        path.write_text(rewrite(path.read_text(encoding="utf-8"), models), encoding="utf-8")


if __name__ == "__main__":
    main()
