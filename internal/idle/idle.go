// Package idle bounds how long a client of a streamed HTTP answer (an export, a backup)
// waits on a server that stops sending: not the whole answer, which may take as long as it
// needs while bytes flow, but the wait for its headers and for each next byte. Its clients
// follow redirects only within the server named (SameServer).
package idle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Client returns an HTTP client that waits at most header for an answer's status line and
// headers, and no overall deadline. It follows redirects only within the server it was
// sent to (SameServer).
func Client(header time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = header
	return &http.Client{Transport: tr, CheckRedirect: SameServer}
}

// SameServer is an http.Client's CheckRedirect that refuses a redirect to another server:
// another scheme, host or port than the first request's. Go's client sends the request's
// Authorization on to any port and scheme of the same host name (and its subdomains), so
// that a server redirecting there would have the bearer token sent to another service, or
// in clear text from https to http. The command's user names the server; the token goes
// nowhere else.
func SameServer(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
		return fmt.Errorf("the server redirects to %s, another server: the token is sent only to the server named; name that one if it is the ledger's", req.URL.Redacted())
	}
	return nil
}

// Do sends req with client. The answer's body fails, naming the request, once a read has
// waited idle for a byte; closing the body releases the request. A failure of the request
// or of a read is the cause the request's context ended with, when it has one (a caller's
// context.WithTimeoutCause, say), else the transport's error.
func Do(client *http.Client, req *http.Request, idle time.Duration) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		cancel(nil)
		return nil, Cause(ctx, err)
	}
	stalled := fmt.Errorf("%s %s: no byte of the answer for %s", req.Method, req.URL.Path, idle)
	timer := time.AfterFunc(idle, func() { cancel(stalled) })
	timer.Stop() // runs only while a read waits
	resp.Body = &body{ReadCloser: resp.Body, ctx: ctx, cancel: cancel, timer: timer, idle: idle}
	return resp, nil
}

// DoRetry is Do, sending req again while the server answers 429 (one run with a rate
// limit, past its burst) and the wait its Retry-After asks for (RetryWait) ends within
// within of the first send: a rate limit slows a client down, it does not make the server
// unreadable. It returns the last answer whatever its status: a 429 whose wait does not fit,
// or that came when req's context ended, with its body (read, at most 64 KiB) as it came.
// req has no body (a GET): it is sent anew as it is.
func DoRetry(client *http.Client, req *http.Request, idle, within time.Duration) (*http.Response, error) {
	giveUp := time.Now().Add(within)
	for {
		resp, err := Do(client, req.Clone(req.Context()), idle)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests {
			return resp, err
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(msg))
		wait := RetryWait(resp.Header)
		if time.Now().Add(wait).After(giveUp) {
			return resp, nil
		}
		select {
		case <-time.After(wait):
		case <-req.Context().Done():
			return resp, nil
		}
	}
}

// MinRetryWait is the least DoRetry waits before asking again after a 429.
const MinRetryWait = 100 * time.Millisecond

// RetryWait is the wait a 429 answer asks for in its Retry-After (whole seconds, as
// timebank's server sends it), at least MinRetryWait and at most a day (no overflow); a
// second when it says none.
func RetryWait(h http.Header) time.Duration {
	s, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || s < 0 {
		return time.Second
	}
	return max(time.Duration(min(s, 86400))*time.Second, MinRetryWait)
}

// Cause returns why ctx ended, when it ended with a cause of its own, else err.
func Cause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && cause != context.Canceled && cause != context.DeadlineExceeded {
		return cause
	}
	return err
}

// body is a response body whose reads fail once one has waited idle for a byte.
type body struct {
	io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	idle   time.Duration
}

// Read arms the idle timer for the length of one read of the transport's body.
//
// The timer and the read race at the limit, and that race is harmless. The timer's function
// cancels the request when it fires, even if the read returned a moment before and Stop has
// not run yet (AfterFunc's Stop does not wait for a function that has started): then this
// read's bytes are returned, and the next read fails as stalled. But no read can be told
// from one that took the whole limit there: between the transport's Read returning and Stop
// there are only a few instructions, so the data reached this goroutine at the limit, give or
// take a preemption, which is as late as the same bytes would be had the kernel held them
// that long. A read that returns sooner stops the timer before it fires, and the stream
// goes on; and no stall is missed: every read that waits Resets the timer first
// (Reset re-arms an AfterFunc timer that fired or was stopped), and a cancel ends the
// transport's read, whatever the timer did before.
func (b *body) Read(p []byte) (int, error) {
	b.timer.Reset(b.idle)
	n, err := b.ReadCloser.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF {
		err = Cause(b.ctx, err)
	}
	return n, err
}

func (b *body) Close() error {
	b.timer.Stop()
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// Redacted returns the URL raw with the password of its userinfo, if any, replaced by
// "xxxxx", as url.URL.Redacted does, for messages: a --url may carry a proxy's basic
// authentication (https://user:password@host), which must not reach a terminal or a log.
// Unlike url.URL.Redacted it works on what does not parse as a URL too (a --url refused as
// malformed is still named), and on one without "//" ("user:password@host", which parses
// as the opaque URL of the scheme "user").
func Redacted(raw string) string {
	prefix, rest := "", raw
	if i := strings.Index(raw, "://"); i >= 0 {
		prefix, rest = raw[:i+3], raw[i+3:]
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return raw
	}
	user, _, hasPassword := strings.Cut(authority[:at], ":")
	if !hasPassword {
		return raw
	}
	return prefix + user + ":xxxxx" + rest[at:]
}
