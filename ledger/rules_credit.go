package ledger

import "time"

// futureSlackMicros is how far past now a credited session may end (SPEC §3: 5 minutes).
const futureSlackMicros = 5 * 60 * microsPerSecond

const microsPerHour = 3600 * microsPerSecond

// creditShape is a credit request once its shape is checked.
type creditShape struct {
	body       CreditBody
	hours      int64
	start, end int64
}

func (d *decider) creditShape(b *CreditBody) (*creditShape, error) {
	c := &creditShape{body: *b}
	var err error
	if b.Station != "" {
		if c.body.Station, err = ParseRef("station", string(b.Station), KindStation); err != nil {
			return nil, err
		}
	} else if d.by.Role == RoleAdmin {
		return nil, badField("station", "An admin crediting hours must name the crediting station.")
	}
	if c.body.Volunteer, err = ParseRef("volunteer", string(b.Volunteer), KindResident); err != nil {
		return nil, err
	}
	if c.hours, c.body.Hours, err = d.amount(AssetHours, b.Hours); err != nil {
		return nil, err
	}
	if err := CheckText("activity.id", b.Activity.ID, MaxActivityIDChars, true); err != nil {
		return nil, err
	}
	if !validName(b.Activity.Category) {
		return nil, badField("activity.category", "activity.category must match ^[a-z0-9][a-z0-9._-]{0,63}$, e.g. elderly-care.")
	}
	if c.start, err = ParseTime("activity.started_at", b.Activity.StartedAt); err != nil {
		return nil, err
	}
	if c.end, err = ParseTime("activity.ended_at", b.Activity.EndedAt); err != nil {
		return nil, err
	}
	if c.end <= c.start {
		return nil, Errorf(CodeInvalidTime, "activity.ended_at must be after activity.started_at.").With("field", "activity.ended_at")
	}
	if err := CheckText("memo", b.Memo, MaxMemoChars, false); err != nil {
		return nil, err
	}
	c.body.Activity.StartedAt, c.body.Activity.EndedAt = FormatTime(c.start), FormatTime(c.end)
	return c, nil
}

func (d *decider) credit(b *CreditBody) (Body, error) {
	c, err := d.creditShape(b)
	if err != nil {
		return nil, err
	}
	if err := d.role("credit hours", RoleStation, RoleAdmin); err != nil {
		return nil, err
	}
	if d.by.Role == RoleStation {
		if c.body.Station != "" && c.body.Station != d.by.Account {
			return nil, forbidden("A station credits hours as itself only; leave out station or name your own.")
		}
		c.body.Station = d.by.Account
	}
	vol := c.body.Volunteer
	if err := d.active(c.body.Station, vol); err != nil {
		return nil, err
	}
	if err := d.creditRules(c); err != nil {
		return nil, err
	}
	ps := []Posting{{From: IssuerOf(AssetHours), To: vol, Asset: AssetHours, Amount: c.hours}}
	points, _, ok := d.p.PointsPerHour(c.body.Activity.Category).Apply(c.hours, d.p.Assets[AssetHours].Scale, d.p.Assets[AssetPoints].Scale)
	if !ok {
		return nil, Errorf(CodeBalanceCapExceeded, "The points for this credit do not fit the ledger's range.")
	}
	if points > 0 {
		ps = append(ps, Posting{From: IssuerOf(AssetPoints), To: vol, Asset: AssetPoints, Amount: points})
	}
	if err := d.post(ps, true, nil); err != nil {
		return nil, err
	}
	return &c.body, nil
}

// creditRules checks SPEC §3's credit rules in their listed order (the balance cap is
// checked with the postings).
func (d *decider) creditRules(c *creditShape) error {
	pc := d.p.mustCompiled()
	if c.hours > pc.maxPerEntry {
		return Errorf(CodeEntryCapExceeded, "One credit may carry at most %s hours; this one carries %s.",
			d.fmtAmount(AssetHours, pc.maxPerEntry), c.body.Hours).With("max_hours_per_entry", d.fmtAmount(AssetHours, pc.maxPerEntry))
	}
	if !hoursFit(c.hours, d.p.Assets[AssetHours].Scale, c.end-c.start) {
		return Errorf(CodeDurationExceeded, "The session lasted %s but credits %s hours; credit at most the time served.",
			spokenDuration(c.end-c.start), c.body.Hours)
	}
	if c.end > d.now+futureSlackMicros {
		return Errorf(CodeFutureTime, "The session ends at %s, in the future; credit sessions once they have ended.", c.body.Activity.EndedAt)
	}
	if c.start < d.now-pc.backdateMicros {
		return Errorf(CodeBackdateWindowExceeded, "Sessions may be credited up to %d days after they start; this one started %s.",
			d.p.Credit.BackdateDays, c.body.Activity.StartedAt).With("backdate_days", d.p.Credit.BackdateDays)
	}
	if err := d.dailyCap(c); err != nil {
		return err
	}
	prev, err := d.v.SessionBefore(c.body.Volunteer, c.end)
	if err != nil {
		return err
	}
	if prev != nil && prev.End > c.start {
		return d.overlapping(c.body.Volunteer, prev)
	}
	return nil
}

// overlapping is the overlapping_session refusal. It names the session overlapped (its
// times and entry) only to a principal that may read that credit: the admin, or the station
// that made it. Another station's credit is not this station's to see (SPEC §2).
func (d *decider) overlapping(vol AccountID, prev *Session) error {
	if d.by.Role != RoleAdmin {
		e, err := d.v.Entry(prev.Seq)
		if err != nil {
			return err
		}
		if e == nil || !creditedBy(e, d.by.Account) {
			return Errorf(CodeOverlappingSession, "%s already has hours credited at another station for a time that overlaps this session.", vol)
		}
	}
	return Errorf(CodeOverlappingSession, "%s already has hours credited from %s to %s (entry %d), which overlaps this session.",
		vol, FormatTime(prev.Start), FormatTime(prev.End), prev.Seq).With("seq", prev.Seq)
}

// creditedBy reports whether e is a credit made by (or, by an admin, for) station.
func creditedBy(e *Entry, station AccountID) bool {
	cb, ok := e.Body.(*CreditBody)
	return ok && cb.Station == station
}

// dailyCap checks the volunteer's credited hours for the local calendar day of started_at.
func (d *decider) dailyCap(c *creditShape) error {
	loc := d.p.Location()
	y, m, day := time.UnixMicro(c.start).In(loc).Date()
	dayStart, dayEnd := localDayStart(y, m, day, loc), localDayStart(y, m, day+1, loc)
	sessions, err := d.v.SessionsIn(c.body.Volunteer, dayStart, dayEnd)
	if err != nil {
		return err
	}
	total := c.hours
	for _, s := range sessions {
		total += s.Hours
	}
	max := d.p.mustCompiled().maxPerDay
	if total > max {
		date := time.Date(y, m, day, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
		return Errorf(CodeDailyCapExceeded, "%s would have %s hours credited for %s; the daily limit is %s.",
			c.body.Volunteer, d.fmtAmount(AssetHours, total), date, d.fmtAmount(AssetHours, max)).
			With("max_hours_per_day", d.fmtAmount(AssetHours, max)).With("day", date)
	}
	return nil
}

// maxClockChange bounds how far a time zone's clock ever jumps at once (two hours, in
// practice one), with room to spare.
const maxClockChange = 3 * time.Hour

// localDayStart returns the first instant (UTC microseconds) whose date in loc is the day
// y-m-d (normalised as time.Date does: day 32 is the first of the next month). Usually that
// is local midnight; where a clock change skips or repeats midnight, time.Date picks one side
// of the change, so near a change the answer is searched for instead: local dates never go
// back as time goes on, in any zone that changes its clocks at night.
func localDayStart(y int, m time.Month, d int, loc *time.Location) int64 {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if zoneStart, zoneEnd := t.ZoneBounds(); (zoneStart.IsZero() || t.Sub(zoneStart) > maxClockChange) &&
		(zoneEnd.IsZero() || zoneEnd.Sub(t) > maxClockChange) {
		return t.UnixMicro() // no clock change near: midnight exists once, and t is it
	}
	want := time.Date(y, m, d, 0, 0, 0, 0, time.UTC) // the date, normalised
	before := func(us int64) bool {
		ly, lm, ld := time.UnixMicro(us).In(loc).Date()
		return time.Date(ly, lm, ld, 0, 0, 0, 0, time.UTC).Before(want)
	}
	lo, hi := t.Add(-maxClockChange).UnixMicro(), t.Add(maxClockChange).UnixMicro() // before(lo), !before(hi)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if before(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// hoursFit reports whether hours (minor units at scale) ≤ the duration durMicros, exactly.
func hoursFit(hours int64, scale int, durMicros int64) bool {
	if hours < 0 || durMicros < 0 {
		return false
	}
	return lessOrEqual128(uint64(hours), uint64(microsPerHour), uint64(durMicros), uint64(pow10(scale)))
}
