package api

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// TestIdleWriterFlush: a handler's flush through the write-idle limit sends what waits at
// once, under a deadline renewed for it (a flush long after the last write is no stall of
// the client's), and the response controller still reaches the connection through it. No
// handler flushes today; one that did got nothing sent, or its answer cut (found by
// mutation testing).
func TestIdleWriterFlush(t *testing.T) {
	const idle = 300 * time.Millisecond
	got := make(chan struct{})
	errs := make(chan error, 1)
	e := echo.New()
	e.Pre(writeIdleLimit(idle))
	e.GET("/", func(c echo.Context) error {
		errs <- func() error {
			rc := http.NewResponseController(c.Response().Writer)
			if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
				return err
			}
			c.Response().WriteHeader(http.StatusOK)
			if _, err := c.Response().Write([]byte("a")); err != nil {
				return err
			}
			time.Sleep(2 * idle) // past the deadline the write set
			if err := rc.Flush(); err != nil {
				return err
			}
			select {
			case <-got:
				return nil
			case <-time.After(10 * time.Second):
				return errors.New("the client has not had the flushed byte 10 s on")
			}
		}()
		return nil
	})
	ts := httptest.NewServer(e)
	defer ts.Close()
	res, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	go func() {
		if b := make([]byte, 1); func() bool { _, err := io.ReadFull(res.Body, b); return err == nil }() {
			close(got)
		}
	}()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}
