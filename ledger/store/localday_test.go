package store

import (
	"testing"
	"time"
)

// TestDailyCapDayEndsAtLocalMidnight: a session starting exactly at the next local midnight
// (Asia/Shanghai: t0−10h) belongs to the next day and does not count toward the day before.
// Mutation testing found the store's day query ([start, end)) could include it unnoticed:
// the random property tests never hit midnight exactly.
func TestDailyCapDayEndsAtLocalMidnight(t *testing.T) {
	l, _ := openTest(t, Options{})
	standard(t, l)                                                              // alice: 10 h on local Nov 28, [t0−20h, t0−10h)
	must(t, l, s1, credit("resident:alice", "1", -10*time.Hour, -9*time.Hour))  // from local midnight, Nov 29
	must(t, l, s1, credit("resident:alice", "2", -22*time.Hour, -20*time.Hour)) // Nov 28: 10 + 2 = 12, the cap
}
