package ledger

import (
	"testing"
	"time"
)

// Zones whose clocks change at midnight (Santiago, Cairo, Beirut, Havana), at other hours
// (Berlin, New York), by half an hour (Lord Howe), and none (Shanghai, UTC).
var dayZones = []string{"Asia/Shanghai", "UTC", "America/Santiago", "Africa/Cairo", "Asia/Beirut",
	"America/Havana", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"}

// TestLocalDayStart: for every day of 2026 in every zone, the day's first instant has that
// local date, and the microsecond before it has the day before's.
func TestLocalDayStart(t *testing.T) {
	for _, name := range dayZones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		for d := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == 2026; d = d.AddDate(0, 0, 1) {
			start := localDayStart(d.Year(), d.Month(), d.Day(), loc)
			if got := time.UnixMicro(start).In(loc).Format(time.DateOnly); got != d.Format(time.DateOnly) {
				t.Fatalf("%s: day %s starts at %s, a moment of %s", name, d.Format(time.DateOnly), time.UnixMicro(start).In(loc), got)
			}
			prev := d.AddDate(0, 0, -1).Format(time.DateOnly)
			if got := time.UnixMicro(start - 1).In(loc).Format(time.DateOnly); got != prev {
				t.Fatalf("%s: the microsecond before day %s starts is on %s, not %s", name, d.Format(time.DateOnly), got, prev)
			}
		}
	}
}

// creditAt is a cleaning session of hours from start to end.
func creditAt(vol AccountID, hours string, start, end time.Time) *CreditBody {
	return &CreditBody{Volunteer: vol, Hours: hours, Activity: Activity{ID: "act", Category: "cleaning",
		StartedAt: start.UTC().Format(time.RFC3339), EndedAt: end.UTC().Format(time.RFC3339)}}
}

// inZone puts a policy in force with timezone name and a backdate window of a year.
func inZone(t *testing.T, name string) (*book, *time.Location) {
	b := standard(t)
	p := *b.st.Policy()
	p.Timezone, p.Credit.BackdateDays = name, 365
	b.must(admin, &PolicyBody{Policy: p})
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return b, loc
}

// TestDailyCapOnDaysWithAClockChange: the daily cap counts the sessions of the local
// calendar day, also on a day whose midnight a clock change skips (found by an audit: the
// window was shifted by the change's hour, refusing or allowing the wrong credits).
func TestDailyCapOnDaysWithAClockChange(t *testing.T) {
	t.Run("Cairo: the next day's first hour is not this day's", func(t *testing.T) {
		b, cai := inZone(t, "Africa/Cairo") // 2026-04-24 starts at 01:00: 00:00 does not exist
		b.must(s1, creditAt("resident:bob", "1", time.Date(2026, 4, 25, 0, 0, 0, 0, cai), time.Date(2026, 4, 25, 1, 0, 0, 0, cai)))
		b.must(s1, creditAt("resident:bob", "11.5", time.Date(2026, 4, 24, 10, 0, 0, 0, cai), time.Date(2026, 4, 24, 21, 30, 0, 0, cai)))
		b.must(s1, creditAt("resident:bob", "0.5", time.Date(2026, 4, 24, 22, 0, 0, 0, cai), time.Date(2026, 4, 24, 23, 0, 0, 0, cai)))
		_, err := b.try(s1, creditAt("resident:bob", "0.01", time.Date(2026, 4, 24, 23, 30, 0, 0, cai), time.Date(2026, 4, 24, 23, 45, 0, 0, cai)))
		if CodeOf(err) != CodeDailyCapExceeded {
			t.Fatalf("a 13th hour on 2026-04-24 in Cairo: %v, want daily_cap_exceeded", err)
		}
	})
	t.Run("Santiago: the day's last hour counts", func(t *testing.T) {
		b, scl := inZone(t, "America/Santiago") // 2026-09-06 starts at 01:00
		b.must(s1, creditAt("resident:bob", "1", time.Date(2026, 9, 6, 23, 0, 0, 0, scl), time.Date(2026, 9, 7, 0, 0, 0, 0, scl)))
		_, err := b.try(s1, creditAt("resident:bob", "12", time.Date(2026, 9, 6, 8, 0, 0, 0, scl), time.Date(2026, 9, 6, 20, 0, 0, 0, scl)))
		if CodeOf(err) != CodeDailyCapExceeded {
			t.Fatalf("13 hours on 2026-09-06 in Santiago: %v, want daily_cap_exceeded", err)
		}
		if e := err.(*Error); e.Details["day"] != "2026-09-06" {
			t.Fatalf("the refusal names day %v, want 2026-09-06", e.Details["day"])
		}
	})
	t.Run("Santiago: the day before's last hour does not", func(t *testing.T) {
		b, scl := inZone(t, "America/Santiago")
		b.must(s1, creditAt("resident:bob", "0.5", time.Date(2026, 9, 5, 23, 0, 0, 0, scl), time.Date(2026, 9, 5, 23, 30, 0, 0, scl)))
		b.must(s1, creditAt("resident:bob", "12", time.Date(2026, 9, 6, 8, 0, 0, 0, scl), time.Date(2026, 9, 6, 20, 0, 0, 0, scl)))
	})
}

// TestDailyCapCountsASessionStartingAtMidnight: a session that starts at the first instant
// of the local day is that day's (found by mutation testing: MemState.SessionsIn leaving out
// a session starting exactly at its from passed, and verify would have replayed a 13th hour).
func TestDailyCapCountsASessionStartingAtMidnight(t *testing.T) {
	b, utc := inZone(t, "UTC")
	day := func(h, m int) time.Time { return time.Date(2026, 11, 20, h, m, 0, 0, utc) }
	b.must(s1, creditAt("resident:bob", "1", day(0, 0), day(1, 0)))
	b.must(s1, creditAt("resident:bob", "11", day(2, 0), day(13, 0)))
	_, err := b.try(s1, creditAt("resident:bob", "0.01", day(14, 0), day(14, 15)))
	if CodeOf(err) != CodeDailyCapExceeded {
		t.Fatalf("a 13th hour on 2026-11-20, the first from midnight: %v, want daily_cap_exceeded", err)
	}
}

// TestPolicyTimezoneNames: only IANA names; not the host-only names of a zoneinfo directory,
// which would make the daily cap depend on the machine that decides or replays it.
func TestPolicyTimezoneNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"Asia/Shanghai": true, "UTC": true, "America/Argentina/Buenos_Aires": true, "Etc/GMT+8": true,
		"America/Port-au-Prince": true,
		"localtime":              false, "posixrules": false, "Factory": false, "posix/Asia/Shanghai": false,
		"right/Asia/Shanghai": false, "Local": false, "": false, "Mars/Base": false, "Asia/../Asia/Shanghai": false,
		"/usr/share/zoneinfo/Asia/Shanghai": false,
	} {
		p := *DefaultPolicy()
		p.Timezone = name
		err := p.Compile(DefaultPolicy().Assets)
		if ok != (err == nil) || (err != nil && CodeOf(err) != CodeInvalidPolicy) {
			t.Errorf("timezone %q: %v, want accepted %v", name, err, ok)
		}
	}
}
