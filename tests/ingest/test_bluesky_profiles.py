from __future__ import annotations

import json

import httpx
import pytest

from core.errors import Rejected
from core.events import Author, Mention, make_uid, now
from ingest.bluesky_profiles import BATCH, Holding, Profiles, parse_profiles
from ingest.http import HttpPolicy, Polite
from tests.ingest.support import ReplayServer, Reply, Sleeps, fixture

PATH = "/xrpc/app.bsky.actor.getProfiles"
LAYLA = "did:plc:sadatest0000000000000001"
NOURA = "did:plc:sadatest0000000000000000"
LAPSED = "did:plc:sadatest0000000000000003"  # its handle no longer resolves
GONE = "did:plc:sadatest0000000000000004"  # the AppView does not know it


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def profiles(
    server: ReplayServer, client: httpx.AsyncClient, clock: Clock, **policy: float
) -> Profiles:
    http = HttpPolicy.model_validate(
        {"requests_per_second_per_host": 1000, "max_attempts": 1, **policy}
    )
    polite = Polite(client, http, source="bluesky", sleep=Sleeps())
    return Profiles(polite, server.url(PATH), ttl_seconds=3600, clock=clock)


def post(did: str, rkey: str = "3mq") -> Mention:
    return Mention(
        uid=make_uid("bluesky", f"at://{did}/{rkey}"),
        source="bluesky",
        source_id=f"at://{did}/{rkey}",
        url=f"https://bsky.app/profile/{did}/post/1",
        author=Author(handle=did),
        text="acme",
        created_at=now(),
        fetched_at=now(),
    )


def body(dids: list[str]) -> str:
    return json.dumps(
        {
            "profiles": [
                {"did": d, "handle": f"user{d[-3:]}.bsky.social", "followersCount": int(d[-3:])}
                for d in dids
            ]
        }
    )


def test_a_getprofiles_answer_gives_handles_names_and_followers() -> None:
    found = parse_profiles(fixture("bluesky_getProfiles.json"))
    assert found[LAYLA] == Author(
        handle="laylawatches.bsky.social", name="Layla ✈️ travels", followers=12840
    )
    assert found[NOURA] == Author(handle="noura.example.com", name="نورة", followers=356)
    # "handle.invalid" is no handle: the DID stays the handle; an entry without a DID is skipped.
    assert found[LAPSED] == Author(handle=LAPSED, name=None, followers=0)
    assert set(found) == {LAYLA, NOURA, LAPSED}


def test_a_profile_beyond_the_contract_is_skipped_not_the_batch() -> None:
    hostile = {
        "did": "did:plc:hostile",
        "handle": "x.bsky.social",
        "displayName": "n" * 40_000,
        "followersCount": 2**70,
    }
    fine = {"did": "did:plc:fine", "handle": "fine.bsky.social", "followersCount": 3}
    found = parse_profiles(json.dumps({"profiles": [hostile, fine]}).encode())
    assert set(found) == {"did:plc:fine"}


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"<html>503</html>", "not JSON"),
        (b'{"error": "InvalidRequest"}', "without a 'profiles' list"),
    ],
)
def test_an_answer_that_is_not_getprofiles_says_what_it_is(payload: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_profiles(payload)


async def test_authors_are_asked_25_at_a_time_and_then_cached(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    dids = [f"did:plc:sadatest0000000000000{n:03d}" for n in range(30)]
    server.script(PATH, Reply(body=body(dids[:BATCH])), Reply(body=body(dids[BATCH:])))
    clock = Clock()
    authors = profiles(server, client, clock)
    await authors.resolve(dids + dids[:3])  # repeats are asked once
    first, second = server.seen(PATH)
    assert [v for k, v in first.pairs if k == "actors"] == dids[:BATCH]
    assert [v for k, v in second.pairs if k == "actors"] == dids[BATCH:]
    assert authors.author(dids[29]) == Author(handle="user029.bsky.social", followers=29)

    await authors.resolve(dids)
    assert len(server.seen(PATH)) == 2  # all cached
    clock.now += 3601
    assert authors.author(dids[0]) == Author(handle=dids[0])  # stale: not trusted any more
    await authors.resolve(dids[:1])
    assert len(server.seen(PATH)) == 3


async def test_a_did_the_appview_does_not_know_stays_a_did_and_is_not_asked_again(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    server.script(PATH, Reply(body=fixture("bluesky_getProfiles.json")))
    authors = profiles(server, client, Clock())
    await authors.resolve([LAYLA, GONE])
    await authors.resolve([GONE])
    assert authors.author(GONE) == Author(handle=GONE)
    assert authors.author(LAYLA).followers == 12840
    assert len(server.seen(PATH)) == 1


@pytest.mark.parametrize(
    ("reply", "pause"),
    [
        (Reply(status=429, headers={"Retry-After": "30"}), 30.0),
        (Reply(status=502), 60.0),
        (Reply(body="<html>maintenance</html>"), 60.0),
        (Reply(body=body([LAYLA]), delay_seconds=1.0), 60.0),  # longer than the 0.2 s timeout
    ],
)
async def test_a_failing_appview_leaves_dids_and_pauses_look_ups(
    server: ReplayServer, client: httpx.AsyncClient, reply: Reply, pause: float
) -> None:
    server.script(PATH, reply, Reply(body=body([LAYLA])))
    clock = Clock()
    authors = profiles(server, client, clock, timeout_seconds=0.2)
    await authors.resolve([LAYLA])
    assert authors.author(LAYLA) == Author(handle=LAYLA)
    clock.now += pause - 1
    await authors.resolve([LAYLA])
    assert len(server.seen(PATH)) == 1  # paused: no request
    clock.now += 2
    await authors.resolve([LAYLA])
    assert authors.author(LAYLA).handle == "user001.bsky.social"


async def test_held_posts_go_out_in_order_with_their_authors_when_due(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    server.script(PATH, Reply(body=fixture("bluesky_getProfiles.json")))
    clock = Clock()
    held = Holding(profiles(server, client, clock), wait_seconds=1.0, clock=clock)
    bad = Rejected(payload="{}", reason="bluesky: post without text")
    held.hold(500, [post(LAYLA, "a"), bad])
    held.hold(600, [])
    held.hold(700, [post(GONE, "b")])
    assert not held.due()
    assert held.cursor(700) == 499  # a crash now resumes before the oldest held post
    clock.now += 1.0
    assert held.due()
    layla, rejected, gone = await held.release()
    assert isinstance(layla, Mention) and layla.author.handle == "laylawatches.bsky.social"
    assert layla.source_id == f"at://{LAYLA}/a"  # the DID stays in the ids and the URL
    assert rejected is bad
    assert isinstance(gone, Mention) and gone.author == Author(handle=GONE)
    assert held.cursor(700) == 700 and not held.due()


async def test_a_full_batch_of_unknown_authors_is_due_at_once(
    server: ReplayServer, client: httpx.AsyncClient
) -> None:
    clock = Clock()
    held = Holding(profiles(server, client, clock), wait_seconds=60.0, clock=clock)
    held.hold(1, [post(f"did:plc:others{n:03d}") for n in range(BATCH - 2)])
    held.hold(2, [post(LAYLA)] * 3)  # one author, however many posts
    assert not held.due()
    held.hold(3, [post(NOURA)])
    assert held.due()


def test_without_look_ups_nothing_waits() -> None:
    held = Holding(None, wait_seconds=60.0)
    held.hold(1, [post(LAYLA)])
    assert held.due()
