package main

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// failOnce fails its first write, then takes everything.
type failOnce struct {
	failed bool
	buf    bytes.Buffer
}

func (f *failOnce) Write(p []byte) (int, error) {
	if !f.failed {
		f.failed = true
		return 0, errors.New("disk full")
	}
	return f.buf.Write(p)
}

// TestLogWriterRecovers: one failed write (an audit filled the disk under the log) does not
// silence the log for the rest of the process.
func TestLogWriterRecovers(t *testing.T) {
	out := &failOnce{}
	l := newLogWriter(out, time.Hour)
	l.Write([]byte("lost\n"))
	l.flush() // fails: the line is dropped
	l.Write([]byte("kept\n"))
	l.Close()
	if got := out.buf.String(); got != "kept\n" {
		t.Fatalf("after a failed write the log holds %q, want the next line", got)
	}
}
