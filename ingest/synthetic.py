"""A built-in synthetic stream for the demo and tests: Arabic, English, French and Arabizi mentions
of the sample config's brands, with realistic timestamps and one planted crisis spike.

Deterministic for a seed, so a test knows exactly how many mentions concern each brand.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import BaseModel, ConfigDict, Field

from core.errors import Rejected
from core.events import Author, Engagement, Mention, make_uid
from ingest.pacing import paced
from ingest.source import Source

# Everyday chatter per brand of sada/sample-config.yaml, in several languages and scripts.
CHATTER: dict[str, list[str]] = {
    "amr-diab": [
        "حفلة عمرو دياب امبارح كانت تحفة 😍",
        "الألبوم الجديد لعمرو دياب رائع بجد",
        "مين رايح حفلة عمرو دياب في دبي؟",
        "3amr diab el album el gdeed 7elw awi",
        "Amr Diab live in Riyadh was amazing!",
        "Amr Diab concert tickets: when do they go on sale?",
        "Le concert de Amr Diab était vraiment génial",
        "بصراحة اغنية عمرو دياب الجديدة مش عاجباني",
    ],
    "zain": [
        "الشبكة عند زين للاتصالات ضعيفة اليوم في الرياض",
        "باقة زين للاتصالات الجديدة ممتازة وسعرها حلو",
        "كيف اشحن رصيد زين للاتصالات من التطبيق؟",
        "Zain telecom 5G speeds in Kuwait are great",
        "Is Zain telecom down right now? No signal since morning",
        "#زين شكرا على خدمة العملاء السريعة",
    ],
    "skyline-air": [
        "Skyline Air flight to Dubai was on time, great crew",
        "Does Skyline Air allow two cabin bags?",
        "Just booked Skyline Air to Cairo, excited!",
        "رحلتي مع سكاي لاين كانت مريحة جدا",
        "Le vol Skyline Air Paris-Beyrouth était parfait",
        "skyline air 3ando offers 7elwa 3al cairo",
    ],
    "qahwa-house": [
        "Qahwa House flat white is the best in town",
        "قهوة هاوس فتحوا فرع جديد في جدة",
        "Anyone tried the new Qahwa House cardamom latte?",
        "Qahwa House service was slow today",
    ],
}

# A competitor of skyline-air (northwind's share of voice), mentioned now and then.
COMPETITOR = "gulf-wings"
COMPETITOR_SHARE = 0.03
CHATTER[COMPETITOR] = [
    "Gulf Wings flight to Jeddah left on time",
    "Flying Gulf Wings to Amman tomorrow, any tips?",
    "رحلة أجنحة الخليج إلى الدوحة كانت ممتازة",
    "@GulfWings the new lounge in Dubai is lovely",
]

# The planted crisis: a burst of complaints about one brand.
CRISIS: list[str] = [
    "Skyline Air cancelled my flight and no refund yet, worst airline",
    "@SkylineAir 6 hours delayed at the gate, no information at all",
    "Skyline Air lost my luggage, customer service never answers",
    "سكاي لاين ألغت الرحلة وما في استرجاع للفلوس، خدمة العملاء زفت",
    "سكاي لاين الرحلة متأخرة ست ساعات ولا أحد يرد",
    "Skyline Air annule encore un vol, service client nul",
]

# Posts that mention no configured brand: the matcher must let them pass by.
NOISE: list[str] = [
    "Beautiful sunset over the Nile tonight",
    "الجو اليوم حار جدا في الرياض",
    "Quel match hier soir!",
    "yalla nrou7 3al beach",
    "The skyline of Doha at night is unreal",
]


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int = Field(default=2000, gt=0, description="Mentions to generate in all.")
    minutes: int = Field(
        default=26 * 60,
        gt=0,
        description="Event-time span, minutes: a day of chatter lets the detector warm up.",
    )
    seed: int = Field(default=7, description="Random seed; the same seed gives the same stream.")
    start: datetime | None = Field(
        default=None, description="Event time of the first mention; empty means `minutes` ago."
    )
    spike_brand: str = Field(default="skyline-air", description="Brand of the planted crisis.")
    spike_at_minute: int = Field(default=25 * 60, ge=0, description="Minute the crisis starts.")
    spike_minutes: int = Field(default=4, ge=0, description="How long the crisis lasts.")
    spike_per_minute: int = Field(default=70, ge=0, description="Crisis mentions per minute.")
    rate_per_second: float | None = Field(
        default=None, gt=0, description="Emit rate; empty means as fast as possible."
    )


def generate(config: Config) -> Iterator[Mention]:
    """The whole stream in event-time order."""
    for mention, _brand in generate_labelled(config):
        yield mention


def generate_labelled(config: Config) -> Iterator[tuple[Mention, str | None]]:
    """The stream with the brand each mention was written about (None: no brand), so tests know
    exactly what the matcher should find. Pure but for `start`, which defaults to the clock."""
    rng = random.Random(config.seed)
    start = config.start or datetime.now(UTC).replace(microsecond=0) - timedelta(
        minutes=config.minutes
    )
    crisis_count = config.spike_minutes * config.spike_per_minute
    chatter_count = max(config.count - crisis_count, 0)
    items: list[tuple[float, str, str | None]] = []
    brands = [brand for brand in CHATTER if brand != COMPETITOR]
    for _ in range(chatter_count):
        at = rng.uniform(0, config.minutes * 60)
        roll = rng.random()
        if roll < 0.1:
            items.append((at, rng.choice(NOISE), None))
        elif roll < 0.1 + COMPETITOR_SHARE:
            items.append((at, rng.choice(CHATTER[COMPETITOR]), COMPETITOR))
        else:
            about = rng.choice(brands)
            items.append((at, rng.choice(CHATTER[about]), about))
    for _ in range(min(crisis_count, config.count)):
        at = (config.spike_at_minute + rng.uniform(0, config.spike_minutes)) * 60
        items.append((at, rng.choice(CRISIS), config.spike_brand))
    items.sort(key=lambda item: item[0])
    for index, (offset, text, brand) in enumerate(items):
        created = start + timedelta(seconds=offset)
        source_id = f"{config.seed}-{index}"
        handle = f"user{rng.randrange(10_000)}"
        mention = Mention(
            uid=make_uid("synthetic", source_id),
            source="synthetic",
            source_id=source_id,
            url=f"https://synthetic.sada.invalid/{handle}/{source_id}",
            author=Author(handle=handle, name=None, followers=int(rng.paretovariate(1.2) * 50)),
            text=text,
            language_hint=None,
            created_at=created,
            fetched_at=created + timedelta(seconds=rng.uniform(1, 30)),
            engagement=Engagement(likes=rng.randrange(50), reposts=rng.randrange(10)),
        )
        yield mention, brand


async def fetch(
    config: Config, client: httpx.AsyncClient | None = None
) -> AsyncIterator[Mention | Rejected]:
    async for mention in paced(generate(config), config.rate_per_second):
        yield mention


SOURCE = Source("synthetic", Config, fetch, "finite")
