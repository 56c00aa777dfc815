"""The array zone clocks and the bulk instant parser agree with zoneinfo and datetime.fromisoformat."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduling.engine.instants import DAY, MINUTE, format_utc, parse_many, parse_one
from scheduling.engine.zones import zone_clock

ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata", "Asia/Tokyo", "UTC",
         "America/Santiago", "Asia/Tehran", "Australia/Lord_Howe"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


@pytest.mark.parametrize("name", ZONES)
def test_local_readings_match_zoneinfo_through_2026_and_2027(name):
    zone = ZoneInfo(name)
    first = datetime(2026, 1, 1, tzinfo=UTC)
    clock = zone_clock(name, us(first) // DAY, us(first) // DAY + 730)
    moments = [first + timedelta(minutes=7 * k) for k in range(0, 730 * 24 * 60 // 7, 13)]
    got = clock.local(np.array([us(m) for m in moments]))
    want = [us(m.astimezone(zone).replace(tzinfo=UTC)) for m in moments]
    assert got.tolist() == want


@pytest.mark.parametrize("name", ZONES)
def test_wall_clock_times_read_with_fold_0_match_zoneinfo(name):
    zone = ZoneInfo(name)
    first = datetime(2026, 1, 1)
    clock = zone_clock(name, us(first.replace(tzinfo=UTC)) // DAY, us(first.replace(tzinfo=UTC)) // DAY + 730)
    walls = [first + timedelta(minutes=30 * k) for k in range(730 * 48)]
    got = clock.utc_of_local(np.array([us(w.replace(tzinfo=UTC)) for w in walls]))
    want = [us(w.replace(tzinfo=zone, fold=0)) for w in walls]
    assert got.tolist() == want


def test_the_bulk_parser_agrees_with_fromisoformat():
    rng = random.Random(7)
    texts = []
    for _ in range(5000):
        text = (f"{rng.choice([1, 1970, 2024, 2026, 2100, 9999]):04d}-{rng.randint(0, 13):02d}-"
                f"{rng.randint(0, 32):02d}T{rng.randint(0, 24):02d}:{rng.randint(0, 60):02d}:"
                f"{rng.randint(0, 60):02d}" + rng.choice(["Z", "+05:30", "-04:00", "+24:00", "+1:00", "", "z"]))
        texts.append(text if rng.random() > 0.05 else text.replace("T", " "))
    values, errors = parse_many(texts + [5, None])
    assert set(errors) >= {5000, 5001}
    assert_agrees_with_parse_one(texts, values, errors)


def assert_agrees_with_parse_one(texts: list[str], values, errors: dict) -> None:
    for i, text in enumerate(texts):
        try:
            expected = parse_one(text)
        except ValueError:
            assert i in errors
        else:
            assert i not in errors and values[i] == expected


def test_instants_are_written_in_utc_with_z():
    assert format_utc(parse_one("2026-12-03T09:00:00-05:00")) == "2026-12-03T14:00:00Z"
    assert format_utc(parse_one("2026-12-03T09:00:00.250+00:00") + 30 * MINUTE) == "2026-12-03T09:30:00.250000Z"


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.text(alphabet="0123456789-:TZA+z", min_size=20, max_size=20).map(
    lambda s: "2026-12-01T10:00:00Z" if s.startswith("A") else s), min_size=1, max_size=30))
def test_the_bulk_parser_agrees_with_fromisoformat_on_one_width_of_garbage(texts):
    # All of one width, so that every text goes through the NumPy path (letters anywhere, years past 9999).
    values, errors = parse_many(texts)
    assert_agrees_with_parse_one(texts, values, errors)


def test_the_bulk_parser_agrees_with_fromisoformat_across_its_chunks():
    # More texts than one chunk of the NumPy path holds; a short text and a long one in the second chunk
    # shift the texts between them off their places, and a letter spoils one text in the third.
    texts = [format_utc((1_700_000_000 + 60 * k) * 1_000_000) for k in range(20_000)]
    texts[8_200] = texts[8_200][:-1]
    texts[8_300] = texts[8_300] + "0"
    texts[17_000] = "A" + texts[17_000][1:]
    values, errors = parse_many(texts)
    assert sorted(errors) == [8_200, 8_300, 17_000]
    good = [i for i in range(len(texts)) if i not in errors]
    assert values[good].tolist() == [parse_one(texts[i]) for i in good]
