package store

import (
	"math"
	"time"

	"github.com/timebank/timebank/ledger"
)

// MaxClockSkew is how far the clock may be behind the last entry's time, or have jumped
// ahead of the monotonic clock since Open, before writes stop: the five minutes SPEC §3
// already allows between a station's clock and the ledger's (future_time).
const MaxClockSkew = 5 * time.Minute

// checkClock answers unavailable when the clock cannot be trusted to time the next entry.
//
// Entry times are max(now, last + 1 µs) and the log keeps them for ever. A clock that jumped
// ahead (a bad NTP server, a host resumed with a wrong clock) would stamp entries in the
// future: once corrected, every later entry would carry those times, stations' credits would
// be refused as backdated and holds would expire late, for as long as the jump. So a wall
// clock more than MaxClockSkew ahead of the monotonic clock since Open stops writes until it
// is back, or the server restarts. A clock more than MaxClockSkew behind the last entry (it
// stepped back, or the ledger was restored on a machine whose clock is behind) would freeze
// entry times, and with them every hold's expiry and every window: writes wait for the clock
// unless AllowClockBehind.
func (l *Ledger) checkClock(now time.Time) error {
	if l.opts.Monotonic != nil {
		if jump := now.Round(0).Sub(l.wallStart) - l.opts.Monotonic(); jump > MaxClockSkew {
			return ledger.Errorf(ledger.CodeUnavailable,
				"The server's clock jumped %v ahead since the server started, so writes have stopped: entries would get times "+
					"in the future that the log keeps for ever. Set the clock right; if it is right now, restart the server.",
				jump.Round(time.Second))
		}
	}
	h := l.head.Load()
	if h == nil || l.opts.AllowClockBehind {
		return nil
	}
	// In µs: the difference of two entry times may not fit a Duration in ns.
	if behindMicros := h.lastTime - now.UnixMicro(); behindMicros > MaxClockSkew.Microseconds() {
		behind := time.Duration(min(behindMicros, math.MaxInt64/1000)) * time.Microsecond
		return ledger.Errorf(ledger.CodeUnavailable,
			"The server's clock (%s) is %v behind the ledger's last entry (%s), so writes wait until it is right: entry times "+
				"would stop advancing, and holds would not expire. Set the clock right, or, if the last entry's time is the "+
				"wrong one, restart with --allow-clock-behind.",
			ledger.FormatTime(now.UnixMicro()), behind.Round(time.Second), ledger.FormatTime(h.lastTime))
	}
	return nil
}
