package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// writeIdleLimit bounds how long a write of an answer may wait for the client to take its
// bytes: each write, the first one too, must be done within idle of its start, or it fails,
// and the answer is cut (a stream after its 200: handledOnce; the connection is closed). A
// client that stops reading (an export, a backup, pipelined requests whose answers it never
// reads) would otherwise hold its connection and a goroutine, and with the export's a store
// read, for as long as it keeps the connection open. The deadline is set when the request
// comes (for what net/http writes before the handler does: a 100 Continue) and renewed before
// each write (each idleWriteBytes of one) and flush, so an answer takes as long as its client
// reads it. It stays set after
// the handler returns: net/http writes out the buffered end of the answer then.
func writeIdleLimit(idle time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			res := c.Response()
			w := &idleWriter{ResponseWriter: res.Writer, rc: http.NewResponseController(res.Writer), idle: idle}
			w.renew()
			res.Writer = w
			return next(c)
		}
	}
}

// idleWriter is an http.ResponseWriter whose writes each get idle to be done.
type idleWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

// renew sets the connection's write deadline idle from now. A writer without deadlines
// (httptest's recorder) is left as it is.
func (w *idleWriter) renew() {
	w.rc.SetWriteDeadline(time.Now().Add(w.idle))
}

// idleWriteBytes is the most written under one deadline: the export writes 2 MiB at a time,
// which a slow link (an auditor's, 256 kbit/s) takes longer than the limit to carry, though
// it carries bytes all along. A link must carry this much within the limit.
const idleWriteBytes = 64 << 10

func (w *idleWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return w.ResponseWriter.Write(p)
	}
	n := 0
	for len(p) > 0 {
		w.renew()
		k, err := w.ResponseWriter.Write(p[:min(len(p), idleWriteBytes)])
		n += k
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// FlushError is what http.ResponseController's Flush (Echo's Response.Flush) calls.
func (w *idleWriter) FlushError() error {
	w.renew()
	return w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
