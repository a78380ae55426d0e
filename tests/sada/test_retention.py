"""Retention: whole months go once they are older than a client's retention_days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from typer.testing import CliRunner

from core import connect
from core.config import SadaConfig, Settings
from sada.cli import app
from sada.retention import judge, month_end


def _config(path: Path | None = None) -> SadaConfig:
    """acme keeps 31 days; acme-eu (whose id starts like acme's) keeps everything."""
    brand = {"id": "widget", "name": "Widget", "include": ["widget"]}
    data = {
        "clients": [
            {"id": "acme", "name": "Acme", "retention_days": 31, "brands": [brand]},
            {"id": "acme-eu", "name": "Acme EU", "brands": [brand]},
        ]
    }
    if path is not None:
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return SadaConfig.model_validate(data)


def test_a_month_goes_once_all_of_it_is_older_than_the_retention() -> None:
    ended = month_end(2025, 10)
    assert ended == datetime(2025, 11, 1, tzinfo=UTC) and month_end(2025, 12).year == 2026
    names = [
        "ns-mentions-acme-2025.10",
        "ns-alerts-acme-2025.11",
        "ns-mentions-acme-eu-2020.01",
        "ns-mentions-gone-2020.01",
        "ns-mentions",  # not a monthly index: never judged
        "other-mentions-acme-2020.01",
    ]
    at_the_limit = judge("ns", names, _config(), ended + timedelta(days=31))
    assert [(v.index, v.delete) for v in at_the_limit] == [
        ("ns-alerts-acme-2025.11", False),
        ("ns-mentions-acme-2025.10", True),
        ("ns-mentions-acme-eu-2020.01", False),
        ("ns-mentions-gone-2020.01", False),
    ]
    assert "client gone is not in the clients file" in at_the_limit[-1].why
    earlier = judge("ns", names, _config(), ended + timedelta(days=31, seconds=-1))
    assert not any(v.delete for v in earlier)


def _months_back(now: datetime, back: int) -> str:
    months = now.year * 12 + now.month - 1 - back
    return f"{months // 12}.{months % 12 + 1:02d}"


def test_retention_apply_deletes_the_expired_months_on_the_real_node(
    settings: Settings, tmp_path: Path
) -> None:
    """Months 0 and 1 back are always within 31 days of their end, 3 and 5 never are."""
    ns, now = settings.namespace, datetime.now(UTC)
    expired = [f"{ns}-mentions-acme-{_months_back(now, k)}" for k in (3, 5)]
    expired.append(f"{ns}-alerts-acme-{_months_back(now, 3)}")
    kept = [f"{ns}-mentions-acme-{_months_back(now, k)}" for k in (0, 1)]
    kept += [f"{ns}-mentions-acme-eu-{_months_back(now, 5)}", f"{ns}-alerts-gone-2020.01"]
    es = connect.elasticsearch(settings)
    for index in expired + kept:
        es.indices.create(index=index)
    env = {"SADA_NAMESPACE": ns, "SADA_CONFIG": str(tmp_path / "clients.yaml")}
    _config(tmp_path / "clients.yaml")

    dry = CliRunner().invoke(app, ["retention", "apply", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert all(f"would delete {index}:" in dry.output for index in expired)
    assert all(f"kept {index}:" in dry.output for index in kept)
    assert f"would delete 3 of {len(expired + kept)} monthly indices" in dry.output
    assert es.indices.exists(index=",".join(expired))

    done = CliRunner().invoke(app, ["retention", "apply"], env=env)
    assert done.exit_code == 0, done.output
    assert all(f"deleted {index}: ended " in done.output for index in expired)
    remaining = es.indices.resolve_index(name=f"{ns}-*")["indices"]
    assert sorted(i["name"] for i in remaining) == sorted(kept)
    es.close()
