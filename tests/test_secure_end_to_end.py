"""The end-to-end test once against the secured local services (`sada services up --secure`):
ingest produces with confluent-kafka, `sada process` runs Faust (aiokafka) and `sada sinks`
kafka-python and the Elasticsearch client, all over SASL_SSL / HTTPS with Sada's credentials."""

from __future__ import annotations

from pathlib import Path

from core.config import Settings
from tests.test_end_to_end import replay_through_the_whole_pipeline


def test_replay_through_the_whole_secured_pipeline(
    secure_settings: Settings, tmp_path: Path
) -> None:
    own = secure_settings.model_copy(update={"namespace": f"{secure_settings.namespace}-e2e"})
    replay_through_the_whole_pipeline(own, tmp_path, split=False)
