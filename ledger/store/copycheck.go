package store

import (
	"fmt"
	"io"
	"math"
)

// CopyCheck passes a copy of a database file (GET /v1/backup) on to W and tells, once it is
// all written, whether it is whole. Tx.WriteTo makes a copy exactly as long as its first
// meta page says: the pages in use times the page size. A copy cut short while its
// transport saw no error (an answer whose end is the connection's close, as from HTTP/1.0
// servers and some proxies, cut by a server or proxy that stopped) is told by its length.
type CopyCheck struct {
	W    io.Writer
	n    int64
	head [pageHeaderSize + 64]byte // the first meta page's header and meta
}

func (c *CopyCheck) Write(p []byte) (int, error) {
	if c.n < int64(len(c.head)) {
		copy(c.head[c.n:], p)
	}
	n, err := c.W.Write(p)
	c.n += int64(n)
	return n, err
}

// Whole returns nil when the bytes written are a whole copy of a database: a valid first
// meta page, and as many bytes as its pages in use. Else it says what they are.
func (c *CopyCheck) Whole() error {
	if c.n < int64(len(c.head)) {
		return fmt.Errorf("the copy has %d bytes: too short for a database, it was cut", c.n)
	}
	m, ok := parseMeta(c.head[:])
	if !ok {
		return fmt.Errorf("the copy does not begin with a database's meta page: not a copy of the database")
	}
	if m.pageSize == 0 || m.highWater > math.MaxInt64/m.pageSize {
		return fmt.Errorf("the copy's meta page says %d pages of %d bytes: not a copy of the database", m.highWater, m.pageSize)
	}
	if want := int64(m.highWater * m.pageSize); c.n != want {
		return fmt.Errorf("the copy has %d bytes, but its meta page says %d pages of %d bytes (%d bytes): it was cut or is not a copy of the database",
			c.n, m.highWater, m.pageSize, want)
	}
	return nil
}
