package ledger

import "sort"

// sessionChunkMax bounds a chunk of a sessionList: a chunk that grows past it splits in two.
const sessionChunkMax = 512

// sessionList is one volunteer's credited sessions in (Start, Seq) order, kept in sorted
// chunks of at most sessionChunkMax, every session of a chunk before every session of the
// next. A credit may start anywhere in the backdate window (up to ten years back), and a
// reversal takes its session out anywhere, so sessions do not come and go in order: in one
// sorted slice each insert moved every later session and each delete scanned them, and a log
// of a million tiny credits given newest first took hours to replay, where the server (on
// bbolt's B+tree) wrote it at its usual pace. A change here moves one chunk's sessions and,
// when a chunk splits or empties, the chunk headers.
type sessionList struct {
	chunks [][]Session // never an empty chunk
	n      int
	moved  int // sessions and chunk headers moved or scanned by add and remove (tests bound it)
}

func sessionBefore(a, b Session) bool {
	return a.Start < b.Start || a.Start == b.Start && a.Seq < b.Seq
}

// chunkOf returns the index of the chunk s belongs in: the last whose first session is not
// after s, or 0.
func (l *sessionList) chunkOf(s Session) int {
	i := sort.Search(len(l.chunks), func(i int) bool { return sessionBefore(s, l.chunks[i][0]) })
	return max(i-1, 0)
}

// firstChunkFrom returns the index of the first chunk that may hold a session starting at or
// after t: the chunk before the first that starts at or after t, or 0.
func (l *sessionList) firstChunkFrom(t int64) int {
	i := sort.Search(len(l.chunks), func(i int) bool { return l.chunks[i][0].Start >= t })
	return max(i-1, 0)
}

func (l *sessionList) add(s Session) {
	l.n++
	if len(l.chunks) == 0 {
		l.chunks = [][]Session{{s}}
		return
	}
	ci := l.chunkOf(s)
	c := l.chunks[ci]
	i := sort.Search(len(c), func(i int) bool { return sessionBefore(s, c[i]) })
	c = append(c, Session{})
	l.moved += copy(c[i+1:], c[i:])
	c[i] = s
	l.chunks[ci] = c
	if len(c) <= sessionChunkMax {
		return
	}
	half := len(c) / 2
	tail := append(make([]Session, 0, sessionChunkMax+1), c[half:]...)
	l.chunks[ci] = c[:half]
	l.chunks = append(l.chunks, nil)
	l.moved += copy(l.chunks[ci+2:], l.chunks[ci+1:]) + len(tail)
	l.chunks[ci+1] = tail
}

// remove takes out the session with s's Start and Seq, if there is one.
func (l *sessionList) remove(s Session) {
	if len(l.chunks) == 0 {
		return
	}
	ci := l.chunkOf(s)
	c := l.chunks[ci]
	i := sort.Search(len(c), func(i int) bool { return !sessionBefore(c[i], s) })
	if i == len(c) || c[i].Start != s.Start || c[i].Seq != s.Seq {
		return
	}
	l.n--
	l.moved += copy(c[i:], c[i+1:])
	c[len(c)-1] = Session{}
	if c = c[:len(c)-1]; len(c) > 0 {
		l.chunks[ci] = c
		return
	}
	l.moved += copy(l.chunks[ci:], l.chunks[ci+1:])
	l.chunks[len(l.chunks)-1] = nil
	l.chunks = l.chunks[:len(l.chunks)-1]
}

// last returns the session with the greatest Start < t, or nil.
func (l *sessionList) last(t int64) *Session {
	ci := sort.Search(len(l.chunks), func(i int) bool { return l.chunks[i][0].Start >= t })
	if ci == 0 {
		return nil
	}
	c := l.chunks[ci-1]
	i := sort.Search(len(c), func(i int) bool { return c[i].Start >= t }) // ≥ 1: c[0].Start < t
	s := c[i-1]
	return &s
}

// in returns the sessions with from ≤ Start < to, in order: a part of one chunk (its
// capacity clipped, so that an append by the caller copies) when they lie in one, else a copy.
func (l *sessionList) in(from, to int64) []Session {
	var out []Session
	for ci := l.firstChunkFrom(from); ci < len(l.chunks) && l.chunks[ci][0].Start < to; ci++ {
		c := l.chunks[ci]
		i := sort.Search(len(c), func(i int) bool { return c[i].Start >= from })
		j := sort.Search(len(c), func(i int) bool { return c[i].Start >= to })
		if i == j {
			continue
		}
		last := j < len(c) || ci+1 == len(l.chunks) || l.chunks[ci+1][0].Start >= to
		if out == nil && last {
			return c[i:j:j]
		}
		out = append(out, c[i:j]...)
	}
	return out
}

// all returns a copy of every session, in order.
func (l *sessionList) all() []Session {
	out := make([]Session, 0, l.n)
	for _, c := range l.chunks {
		out = append(out, c...)
	}
	return out
}
