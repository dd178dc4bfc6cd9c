package store

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// CopyCheck passes a copy of a database file (GET /v1/backup) on to W and tells whether it
// is whole. Tx.WriteTo makes a copy exactly as long as its first meta page says: the pages
// in use times the page size. A copy cut short while its transport saw no error (an answer
// whose end is the connection's close, as from HTTP/1.0 servers and some proxies, cut by a
// server or proxy that stopped) is told by its length (Whole); bytes that are not a copy
// (no meta page first, or more bytes than it counts) are refused as they arrive, not
// written to the disk for as long as they come.
type CopyCheck struct {
	W    io.Writer
	n    int64
	head [pageHeaderSize + 64]byte // the first meta page's header and meta
	want int64                     // the copy's size by its meta page, once read; 0 before
}

func (c *CopyCheck) Write(p []byte) (int, error) {
	if c.n < int64(len(c.head)) {
		copy(c.head[c.n:], p)
	}
	if end := c.n + int64(len(p)); end >= int64(len(c.head)) {
		want, err := c.size()
		if err != nil {
			return 0, err
		}
		if end > want {
			return 0, fmt.Errorf("the copy runs past the %d bytes its meta page counts: not a copy of the database", want)
		}
	}
	n, err := c.W.Write(p)
	c.n += int64(n)
	return n, err
}

// size reads the copy's size from its first meta page, once c.head holds it.
func (c *CopyCheck) size() (int64, error) {
	if c.want > 0 {
		return c.want, nil
	}
	m, ok := parseMeta(c.head[:])
	if !ok {
		return 0, errors.New("the copy does not begin with a database's meta page: not a copy of the database")
	}
	if m.pageSize == 0 || m.highWater < 2 || m.highWater > math.MaxInt64/m.pageSize {
		return 0, fmt.Errorf("the copy's meta page counts %d pages of %d bytes: not a copy of the database", m.highWater, m.pageSize)
	}
	c.want = int64(m.highWater * m.pageSize)
	return c.want, nil
}

// Whole returns nil when the bytes written are a whole copy of a database: a valid first
// meta page, and as many bytes as it counts. Else it says what they are.
func (c *CopyCheck) Whole() error {
	if c.n < int64(len(c.head)) {
		return fmt.Errorf("the copy has %d bytes: too short for a database, it was cut", c.n)
	}
	want, err := c.size()
	if err != nil {
		return err
	}
	if c.n != want {
		return fmt.Errorf("the copy has %d bytes, but its meta page counts %d: it was cut", c.n, want)
	}
	return nil
}
