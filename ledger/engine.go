package ledger

// Decide checks req against the state v at entry time now (UTC microseconds, assigned by the
// sequencer) and returns the entry it makes, with Seq and TimeMicros set, or a *Error.
// It only reads v and is deterministic: the same (v, req, seq, now) always gives the same
// answer. The server and `timebank verify` both run it.
func Decide(v View, req Request, seq uint64, now int64) (*Entry, error) {
	panic("not yet")
}

// Apply changes st as entry e says. e must have come from Decide on the same state (or be a
// logged entry that Decide reproduced); Apply checks nothing a user could get wrong.
func Apply(st State, e *Entry) error {
	panic("not yet")
}
