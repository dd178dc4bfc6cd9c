package ledger

import (
	"testing"
	"time"
)

// Request times (activity.started_at, ended_at): RFC 3339, any offset, at most microsecond
// precision, normalised to UTC in the entry. The server's Apply and every replay parse the
// normalised form again, so whatever ParseTime accepts must come back from FormatTime to the
// same instant, and two spellings of one instant must be judged alike.

// TestParseTimeRefusesWhatRFC3339Refuses: time.Parse's general parser, which ParseTime fell
// back on, takes shapes RFC 3339 does not have (found in a review of time handling,
// 2026-11-30): a one-digit hour, a comma before the fraction, offsets of 24 hours or 60
// minutes (a typo that moved the session by a day), and digits past the nanosecond, which it
// drops without a word.
func TestParseTimeRefusesWhatRFC3339Refuses(t *testing.T) {
	for _, s := range []string{
		"2026-01-01T9:00:00Z",
		"2026-01-01T09:00:00,5Z",
		"2026-01-01T09:00:00,123456Z",
		"2026-01-01T09:00:00+24:00",
		"2026-01-01T09:00:00-24:00",
		"2026-01-01T09:00:00+23:60",
		"2026-01-01T09:00:00+00:60",
		"2026-01-01T09:00:00.1234560009Z", // 0.9 ns past the microsecond
		"2026-01-01T09:00:00.1234561Z",
		"2026-12-31T23:59:60Z", // a leap second: not representable in the canonical form
		"2026-01-01T09:00:00",
		"2026-01-01T09:00Z",
		"2026-01-01 09:00:00Z",
		"2026-01-01T09:00:00.Z",
		"2026-01-01T09:00:00+0800",
		"2026-01-01T09:00:00+08",
		"+2026-01-01T09:00:00Z",
	} {
		if v, err := ParseTime("f", s); CodeOf(err) != CodeInvalidTime {
			t.Errorf("ParseTime(%q) = %s, %v; want invalid_time", s, FormatTime(v), err)
		}
	}
}

// TestParseTimeYearsAreUTCYears: the year range (2000 to 9999) held for the year as written,
// in the request's own offset, so 2000-01-01T00:30:00+01:00 passed while the same instant in
// UTC (1999-12-31T23:30:00Z) did not, and 9999-12-31T23:30:00-01:00 became a five-digit year
// the canonical form cannot hold. The normalised body then fails ParseTime: Apply and replay
// refuse an entry the rules accepted.
func TestParseTimeYearsAreUTCYears(t *testing.T) {
	for _, s := range []string{
		"2000-01-01T00:30:00+01:00", "1999-12-31T23:30:00Z",
		"9999-12-31T23:30:00-01:00", "10000-01-01T00:30:00Z",
	} {
		if v, err := ParseTime("f", s); CodeOf(err) != CodeInvalidTime {
			t.Errorf("ParseTime(%q) = %s, %v; want invalid_time", s, FormatTime(v), err)
		}
	}
	accepted := map[string]string{
		"2026-01-01T09:00:00Z":             "2026-01-01T09:00:00.000000Z",
		"2026-01-01T09:00:00-00:00":        "2026-01-01T09:00:00.000000Z",
		"2026-01-01T09:00:00+05:45":        "2026-01-01T03:15:00.000000Z",
		"2026-01-01T09:00:00-03:30":        "2026-01-01T12:30:00.000000Z",
		"2026-01-01T09:00:00+23:59":        "2025-12-31T09:01:00.000000Z",
		"2026-01-01T09:00:00.5Z":           "2026-01-01T09:00:00.500000Z",
		"2026-01-01T09:00:00.123456Z":      "2026-01-01T09:00:00.123456Z",
		"2026-01-01T09:00:00.123456000Z":   "2026-01-01T09:00:00.123456Z",
		"2026-01-01T09:00:00.1234560000Z":  "2026-01-01T09:00:00.123456Z",
		"2000-01-01T00:00:00Z":             "2000-01-01T00:00:00.000000Z",
		"2000-01-01T08:00:00+08:00":        "2000-01-01T00:00:00.000000Z",
		"9999-12-31T23:59:59.999999Z":      "9999-12-31T23:59:59.999999Z",
		"9999-12-31T23:59:59.999999+00:01": "9999-12-31T23:58:59.999999Z",
		"2028-02-29T12:00:00+08:00":        "2028-02-29T04:00:00.000000Z",
	}
	for s, want := range accepted {
		v, err := ParseTime("f", s)
		if err != nil || FormatTime(v) != want {
			t.Errorf("ParseTime(%q) = %s, %v; want %s", s, FormatTime(v), err, want)
			continue
		}
		if again, err := ParseTime("f", FormatTime(v)); err != nil || again != v {
			t.Errorf("the canonical form %s of %q parses to %d, %v", FormatTime(v), s, again, err)
		}
	}
}

// TestCreditNearTheYear2000: a machine whose real-time clock lost its battery boots at
// 2000-01-01 (a common RTC default). A session written with an offset that puts its UTC
// start in 1999 was accepted by the rules, and the server's own Apply then refused the
// normalised body (a 500, and a log no replay could accept had it been written); the same
// session written in UTC was invalid_time. Both spellings must be judged alike.
func TestCreditNearTheYear2000(t *testing.T) {
	b := newBookAt(t, time.Date(2000, 1, 1, 1, 0, 0, 0, time.UTC))
	for _, id := range []AccountID{"station:s1", "resident:bob"} {
		b.must(admin, &OpenBody{ID: id})
	}
	session := func(start, end string) *CreditBody {
		return &CreditBody{Volunteer: "resident:bob", Hours: "1",
			Activity: Activity{ID: "a", Category: "cleaning", StartedAt: start, EndedAt: end}}
	}
	_, inUTC := b.try(s1, session("1999-12-31T23:30:00Z", "2000-01-01T00:30:00Z"))
	_, withOffset := b.try(s1, session("2000-01-01T00:30:00+01:00", "2000-01-01T01:30:00+01:00"))
	if CodeOf(inUTC) != CodeOf(withOffset) {
		t.Fatalf("one instant, two answers: in UTC %v; with an offset %v", inUTC, withOffset)
	}
	if _, err := replayLines(exportOf(t, b)); err != nil {
		t.Fatalf("replay: %v", err)
	}
}
