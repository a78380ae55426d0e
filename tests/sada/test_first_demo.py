"""The first command a newcomer runs: `sada demo` against a broker and a node that never ran
before (a cache directory and ports of their own), exactly as `make demo` runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ports import free_port

pytestmark = pytest.mark.integration  # real services of its own
REPO = Path(__file__).resolve().parents[2]


def test_the_first_demo_on_cold_services_works(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SADA_CACHE_DIR": str(tmp_path / "cache"),
        "SADA_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port(1)}",
        "SADA_ES_URL": f"http://127.0.0.1:{free_port(100)}",
        "SADA_NAMESPACE": "sada",
    }
    began = time.monotonic()
    try:
        demo = subprocess.run(
            [sys.executable, "-m", "sada", "demo"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        subprocess.run([sys.executable, "-m", "sada", "services", "down"], cwd=REPO, env=env)
    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output[-4000:]

    def row(name: str) -> int:
        found = re.search(rf"{re.escape(name)}\s*│\s*(\d+)", output)
        assert found, f"no {name!r} row in the summary:\n{output[-3000:]}"
        return int(found.group(1))

    assert row("mentions produced") == 2000
    assert row("incidents (alert threads)") == 1
    assert row("records still in flight") == 0
    assert row("scored mentions (brand hits)") == row("documents in sada-demo-mentions") > 0
    print(f"first demo on cold services: {time.monotonic() - began:.0f}s")
