"""The configuration reference in docs/ingest.md is rendered from the Config models.

`python -m tests.ingest.test_docs` rewrites the blocks between the `<!-- config:NAME -->`
markers; the test fails when a model changed and the doc was not regenerated.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined

from ingest import bluesky, gdelt, hackernews, http, mastodon, push, reddit, rss

DOC = Path(__file__).resolve().parents[2] / "docs" / "ingest.md"
MODELS: dict[str, type[BaseModel]] = {
    "bluesky": bluesky.Config, "mastodon": mastodon.Config, "hackernews": hackernews.Config,
    "rss": rss.Config, "rss.google_news": rss.GoogleNewsSearch, "reddit": reddit.Config,
    "gdelt": gdelt.Config, "push": push.Config, "http": http.HttpPolicy,
}


def _type(annotation: object) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return re.sub(r"\b(typing|ingest\.\w+|pydantic\.types)\.", "", str(
        annotation if "[" in str(annotation) or "|" in str(annotation) else text))


def render(model: type[BaseModel]) -> str:
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        if info.default is PydanticUndefined and info.default_factory is None:
            default = "**required**"
        elif isinstance(info.default, BaseModel):
            changed = ", ".join(f"`{k}={v!r}`" for k, v in
                                info.default.model_dump(exclude_defaults=True).items())
            default = "its defaults" + (f" but {changed}" if changed else "")
        elif isinstance(info.default, SecretStr):
            default = "(secret)"
        else:
            default = f"`{info.default!r}`"
        rows.append(f"| `{name}` | `{_type(info.annotation)}` | {default} | "
                    f"{(info.description or '').replace('|', '/')} |")
    return "\n".join(rows)


def blocks(text: str) -> str:
    for name, model in MODELS.items():
        pattern = re.compile(rf"(<!-- config:{re.escape(name)} -->\n)(?:.*?\n)??"
                             r"(<!-- /config -->)", re.S)
        table = render(model).replace("\\", "\\\\")
        text = pattern.sub(rf"\g<1>{table}\n\g<2>", text)
    return text


def test_the_configuration_reference_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in MODELS:
        assert f"<!-- config:{name} -->" in text, f"docs/ingest.md lacks the {name} block"
    assert blocks(text) == text, "run: python -m tests.ingest.test_docs"


if __name__ == "__main__":
    DOC.write_text(blocks(DOC.read_text(encoding="utf-8")), encoding="utf-8")
