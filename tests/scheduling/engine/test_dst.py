"""Working hours, days and busy time across daylight-saving changes, read the way zoneinfo reads them
with fold=0 (a nonexistent local time takes the offset before the change; a repeated one, its first
occurrence)."""

from __future__ import annotations

from scheduling.engine import solve

from .builders import person, problem, role, session, starts
from .test_oracle import assert_matches_oracle

EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def one_person_loop(zone: str, hours: dict, start: str, end: str, minutes: int, step: int, **fields) -> dict:
    return problem(start, end, {"ana": person(zone, working_hours=hours, **fields)},
                   [session("talk", minutes, role("ana"))], step_minutes=step, max_options=5000)


class TestNewYork:
    # America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z); 2026-11-01 02:00 EDT -> 01:00 EST
    # (06:00Z); 2027-03-14 02:00 EST -> 03:00 EDT (07:00Z); 2027-11-07 02:00 EDT -> 01:00 EST (06:00Z).

    def test_it_moves_office_hours_with_the_spring_change(self):
        hours = {"sat": [["09:00", "17:00"]], "sun": [["09:00", "17:00"]]}
        result = solve(one_person_loop("America/New_York", hours, "2026-03-07T00:00:00Z", "2026-03-09T00:00:00Z",
                                       60, 60))
        assert starts(result)[0] == "2026-03-07T14:00:00Z"  # Saturday, EST
        assert starts(result)[7] == "2026-03-07T21:00:00Z"
        assert starts(result)[8] == "2026-03-08T13:00:00Z"  # Sunday, EDT
        assert starts(result)[-1] == "2026-03-08T20:00:00Z"
        assert len(starts(result)) == 16

    def test_it_reads_a_range_starting_in_the_gap_with_the_offset_before_it(self):
        hours = {"sun": [["02:30", "04:00"]]}
        result = solve(one_person_loop("America/New_York", hours, "2026-03-08T05:00:00Z", "2026-03-08T10:00:00Z",
                                       30, 30))
        assert starts(result) == ["2026-03-08T07:30:00Z"]  # 02:30 EST is 03:30 EDT; the range ends 04:00 EDT

    def test_it_reads_a_repeated_hour_at_its_first_occurrence(self):
        hours = {"sun": [["01:00", "03:00"]]}  # 01:00 EDT (05:00Z) to 03:00 EST (08:00Z): three real hours
        result = solve(one_person_loop("America/New_York", hours, "2026-11-01T04:00:00Z", "2026-11-01T10:00:00Z",
                                       60, 60))
        assert starts(result) == ["2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"]

    def test_it_takes_busy_times_with_their_own_offsets(self):
        busy = [["2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00"]]  # 05:30Z to 06:30Z
        result = solve(one_person_loop("America/New_York", {"sun": [["00:00", "24:00"]]}, "2026-11-01T04:00:00Z",
                                       "2026-11-01T09:00:00Z", 30, 30, busy=busy))
        assert "2026-11-01T05:00:00Z" in starts(result)
        assert "2026-11-01T05:30:00Z" not in starts(result)
        assert "2026-11-01T06:00:00Z" not in starts(result)
        assert "2026-11-01T06:30:00Z" in starts(result)


class TestLondon:
    # Europe/London: 2026-03-29 01:00 GMT -> 02:00 BST (01:00Z); 2026-10-25 02:00 BST -> 01:00 GMT (01:00Z);
    # 2027-03-28 01:00 GMT -> 02:00 BST (01:00Z); 2027-10-31 02:00 BST -> 01:00 GMT (01:00Z).

    def test_it_gives_the_spring_sunday_twenty_three_hours(self):
        hours = {"sun": [["00:00", "24:00"]]}
        result = solve(one_person_loop("Europe/London", hours, "2026-03-28T20:00:00Z", "2026-03-30T04:00:00Z",
                                       60, 60))
        assert starts(result)[0] == "2026-03-29T00:00:00Z"
        assert starts(result)[-1] == "2026-03-29T22:00:00Z"  # 24:00 BST is 23:00Z
        assert len(starts(result)) == 23

    def test_it_gives_the_autumn_sunday_twenty_five_hours(self):
        hours = {"sun": [["00:00", "24:00"]]}
        result = solve(one_person_loop("Europe/London", hours, "2026-10-24T20:00:00Z", "2026-10-26T04:00:00Z",
                                       60, 60))
        assert starts(result)[0] == "2026-10-24T23:00:00Z"  # 00:00 BST
        assert starts(result)[-1] == "2026-10-25T23:00:00Z"  # 23:00 GMT, ending at midnight
        assert len(starts(result)) == 25

    def test_it_counts_day_caps_on_the_local_day(self):
        # Booked at 23:30Z on Saturday 24 October 2026 is 00:30 BST on Sunday the 25th.
        hours = {"sat": [["00:00", "24:00"]], "sun": [["00:00", "24:00"]]}
        result = solve(one_person_loop("Europe/London", hours, "2026-10-24T21:00:00Z", "2026-10-25T03:00:00Z",
                                       60, 60, booked=["2026-10-24T23:30:00Z"], max_per_day=1))
        assert starts(result) == ["2026-10-24T21:00:00Z", "2026-10-24T22:00:00Z"]  # still Saturday in London


class TestSydney:
    # Australia/Sydney: 2026-04-05 03:00 AEDT -> 02:00 AEST (2026-04-04 16:00Z); 2026-10-04 02:00 AEST ->
    # 03:00 AEDT (2026-10-03 16:00Z); 2027-04-04 03:00 AEDT -> 02:00 AEST (2027-04-03 16:00Z);
    # 2027-10-03 02:00 AEST -> 03:00 AEDT (2027-10-02 16:00Z).

    def test_it_reads_the_repeated_hour_of_april_at_its_first_occurrence(self):
        hours = {"sun": [["02:00", "03:00"]]}  # 02:00 AEDT (15:00Z) to 03:00 AEST (17:00Z)
        result = solve(one_person_loop("Australia/Sydney", hours, "2026-04-04T12:00:00Z", "2026-04-04T20:00:00Z",
                                       60, 60))
        assert starts(result) == ["2026-04-04T15:00:00Z", "2026-04-04T16:00:00Z"]

    def test_it_reads_a_range_starting_in_the_october_gap_with_the_offset_before_it(self):
        hours = {"sun": [["02:30", "04:00"]]}  # 02:30 AEST = 16:30Z = 03:30 AEDT; 04:00 AEDT = 17:00Z
        result = solve(one_person_loop("Australia/Sydney", hours, "2026-10-03T14:00:00Z", "2026-10-03T20:00:00Z",
                                       30, 30))
        assert starts(result) == ["2026-10-03T16:30:00Z"]

    def test_it_does_not_join_the_evening_to_the_next_morning(self):
        hours = {day: [["00:00", "01:00"], ["23:00", "24:00"]] for day in EVERY_DAY}
        result = solve(one_person_loop("Australia/Sydney", hours, "2026-06-14T12:00:00Z", "2026-06-14T16:00:00Z",
                                       60, 30))
        # 23:00-24:00 AEST is 13:00Z-14:00Z, 00:00-01:00 is 14:00Z-15:00Z: each fits one hour, nothing between.
        assert starts(result) == ["2026-06-14T13:00:00Z", "2026-06-14T14:00:00Z"]


class TestSantiago:
    # America/Santiago changes its clocks at midnight: 2026-09-06 00:00 -04 -> 01:00 -03 (04:00Z), so that
    # Sunday starts at 04:00Z; 2027-04-04 00:00 -03 -> Saturday 23:00 -04 (03:00Z), so that Saturday's last
    # hour occurs twice and Saturday ends at 04:00Z. Day caps must follow the local day across both.

    def _loop(self, start: str, end: str, booked: str) -> dict:
        hours = {day: [["00:00", "24:00"]] for day in EVERY_DAY}
        return one_person_loop("America/Santiago", hours, start, end, 60, 60, booked=[booked], max_per_day=1)

    def test_a_full_saturday_lasts_through_its_repeated_hour(self):
        loop = self._loop("2027-04-04T01:00:00Z", "2027-04-04T07:00:00Z", "2027-04-03T15:00:00Z")
        assert starts(solve(loop)) == ["2027-04-04T04:00:00Z", "2027-04-04T05:00:00Z", "2027-04-04T06:00:00Z"]
        assert_matches_oracle(loop)

    def test_a_full_sunday_starts_after_the_repeated_hour(self):
        loop = self._loop("2027-04-04T01:00:00Z", "2027-04-04T07:00:00Z", "2027-04-04T16:00:00Z")
        assert starts(solve(loop)) == ["2027-04-04T01:00:00Z", "2027-04-04T02:00:00Z", "2027-04-04T03:00:00Z"]
        assert_matches_oracle(loop)

    def test_a_full_saturday_ends_where_the_skipped_midnight_would_be(self):
        loop = self._loop("2026-09-06T02:00:00Z", "2026-09-06T07:00:00Z", "2026-09-05T16:00:00Z")
        assert starts(solve(loop)) == ["2026-09-06T04:00:00Z", "2026-09-06T05:00:00Z", "2026-09-06T06:00:00Z"]
        assert_matches_oracle(loop)

    def test_a_full_week_follows_the_local_week(self):
        # Booked on Sunday 2026-09-06 (local, after the change); max one a week: that ISO week is full until
        # Monday 00:00 -03 (03:00Z on the 7th).
        hours = {day: [["00:00", "24:00"]] for day in EVERY_DAY}
        loop = one_person_loop("America/Santiago", hours, "2026-09-07T01:00:00Z", "2026-09-07T06:00:00Z", 60, 60,
                               booked=["2026-09-06T12:00:00Z"], max_per_week=1)
        assert starts(solve(loop)) == ["2026-09-07T03:00:00Z", "2026-09-07T04:00:00Z", "2026-09-07T05:00:00Z"]
        assert_matches_oracle(loop)
