"""The sink process as a real `sada sinks` process on the real services."""

from __future__ import annotations

from pathlib import Path

import httpx

from core.config import Settings
from sada import SAMPLE_CONFIG
from sada.workers import spawn, stop


def test_a_mapping_clash_stops_the_sinks_with_one_line_that_says_what_to_do(
    settings: Settings, tmp_path: Path
) -> None:
    monthly = f"{settings.namespace}-mentions-acme-2026.01"
    index = f"{settings.es_url}/{monthly}"
    clash = {"mappings": {"properties": {"uid": {"type": "long"}}}}  # Sada's uid is a keyword
    assert httpx.put(index, json=clash, timeout=30).status_code == 200
    own = {"cache_dir": tmp_path, "config_path": SAMPLE_CONFIG}
    worker = spawn("sinks", settings.model_copy(update=own), tmp_path)
    try:
        code = worker.wait(timeout=90)
    finally:
        stop([worker])
    log = (tmp_path / "sinks.log").read_text(errors="replace")
    errors = [line for line in log.splitlines() if line.startswith("error: ")]
    assert code == 2, log[-2000:]
    assert len(errors) == 1, log[-2000:]
    assert f"mapping of {monthly}" in errors[0]
    assert "reindex into a new index" in errors[0]
    assert "Traceback" not in log
