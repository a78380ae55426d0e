from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from core.config import SadaConfig
from core.events import Author, Mention, Sentiment, make_uid
from processors.dedupe import Deduper
from processors.match import build_matcher
from processors.pipeline import process, process_batch, process_each

CONFIG = SadaConfig.model_validate(
    {
        "clients": [
            {
                "id": "shop",
                "name": "Shop",
                "brands": [
                    {"id": "samsung", "name": "Samsung", "include": ["samsung OR سامسونج"]},
                    {
                        "id": "apple",
                        "name": "Apple",
                        "include": ["apple OR ابل"],
                        "exclude": ["apple NEAR/2 pie"],
                    },
                ],
            }
        ]
    }
)


def _mention(text: str, n: int = 1) -> Mention:
    at = datetime(2026, 3, 1, 12, n, tzinfo=UTC)
    return Mention(
        uid=make_uid("test", str(n)),
        source="test",
        source_id=str(n),
        author=Author(handle="h"),
        text=text,
        created_at=at,
        fetched_at=at,
    )


def test_one_record_per_brand_with_its_own_polarity() -> None:
    records = process(
        _mention("I left Samsung for Apple, best decision ever"), build_matcher(CONFIG), Deduper()
    )
    by_brand = {r.brand: r for r in records}
    assert set(by_brand) == {"samsung", "apple"}
    assert by_brand["apple"].sentiment.label == "positive"
    assert by_brand["samsung"].sentiment.label == "negative"
    assert all(r.key == f"shop/{r.brand}" for r in records)


def test_unmatched_and_excluded_mentions_produce_nothing() -> None:
    matcher, deduper = build_matcher(CONFIG), Deduper()
    assert process(_mention("lovely weather today"), matcher, deduper) == []
    assert process(_mention("grandma's apple pie recipe"), matcher, deduper) == []


def test_arabic_mentions_are_normalised_for_search_and_triaged() -> None:
    [record] = process(
        _mention("هل جوال سامسونج الجديد يدعم الشحن السريع؟"), build_matcher(CONFIG), Deduper()
    )
    assert record.language == "ar"
    assert record.triage == "question"
    assert record.triage_rule == "rule 3: asks ('هل')"  # kept for the dashboard: why a question
    assert "سامسونج" in record.text_normalized


def test_a_repost_is_linked_to_the_first_occurrence() -> None:
    matcher, deduper = build_matcher(CONFIG), Deduper()
    text = "Samsung support kept me on hold for two hours and then hung up on me"
    [first] = process(_mention(text, 1), matcher, deduper)
    [repost] = process(_mention("RT " + text, 2), matcher, deduper)
    assert first.duplicate_of is None
    assert repost.duplicate_of == first.mention.uid


BATCH = [
    "I left Samsung for Apple, best decision ever",
    "lovely weather today",
    "هل جوال سامسونج الجديد يدعم الشحن السريع؟",
    "Apple support never answered, I want a refund",
    "grandma's apple pie recipe",
    "Samsung screen cracked after a week",
]


def test_a_batch_gives_what_each_mention_gives_alone_in_order() -> None:
    mentions = [_mention(text, n) for n, text in enumerate(BATCH)]
    batched = process_batch(mentions, build_matcher(CONFIG), Deduper())
    alone = [process(m, build_matcher(CONFIG), Deduper()) for m in mentions]
    assert [len(records) for records in batched] == [2, 0, 1, 1, 0, 1]
    assert batched == alone


class _FailsOn(Deduper):
    """A deduper that breaks on one text: stands in for any step failing on one mention."""

    def check(self, uid: str, text: str, at: datetime) -> str | None:
        if "cracked" in text:
            raise ValueError("broken step")
        return super().check(uid, text, at)


def test_a_failing_mention_gets_its_error_and_the_rest_of_its_batch_is_scored() -> None:
    mentions = [_mention(text, n) for n, text in enumerate(BATCH)]
    results = process_each(mentions, build_matcher(CONFIG), _FailsOn())
    assert isinstance(results[-1], ValueError)
    assert results[:-1] == process_batch(mentions[:-1], build_matcher(CONFIG), Deduper())


class _Backend:
    """A sentiment backend of the user's (as `processors.sentiment.Scorer`): it calls every
    text it is given negative, and records them, so the test sees what reached it."""

    model_id = "my-backend"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return np.tile([0.9, 0.05, 0.05], (len(texts), 1))

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        self.seen += texts
        return [Sentiment(label="negative", probability=0.9, model=self.model_id) for _ in texts]


def test_the_configured_backend_scores_whole_posts_and_each_brands_part() -> None:
    backend = _Backend()
    single = _mention("Samsung is great", 1)
    both = _mention("I love Samsung, but Apple broke my heart", 2)
    results = process_each([single, both], build_matcher(CONFIG), Deduper(), backend)
    records = [record for result in results if isinstance(result, list) for record in result]
    assert len(records) == 3
    assert {(r.sentiment.label, r.sentiment.model) for r in records} == {("negative", "my-backend")}
    assert backend.seen[0] == "Samsung is great"  # the single-brand post, whole, in the batch
    assert "apple" not in backend.seen[1] and "apple" in backend.seen[2]  # each brand's part
