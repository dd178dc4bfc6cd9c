package api_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/timebank/timebank/api"
	"github.com/timebank/timebank/ledger"
)

// writeIdle is the write-idle limit of these tests: small, so that they are quick.
const writeIdle = 200 * time.Millisecond

// TestClientThatStopsReadingIsCut: an answer whose client stops reading it is cut once
// no byte could be written for the write-idle limit, and its connection closed. An export
// (here an endless one) used to hold its connection and goroutine for as long as the client
// kept the connection open; so did pipelined requests whose answers were never read.
func TestClientThatStopsReadingIsCut(t *testing.T) {
	t.Run("export", func(t *testing.T) {
		e := newEnv(t, envOptions{wrap: func(s ledger.Service) ledger.Service { return endlessExport{Service: s} },
			options: api.Options{WriteIdle: writeIdle}, noSeed: true})
		stallingClient(t, e.srv.Handler(), "GET /v1/export HTTP/1.1\r\nHost: ledger\r\nAuthorization: Bearer "+adminSecret+"\r\n\r\n")
		// The stream ended as a cut one (its handler returned, the connection was closed).
		m := e.do("GET", "/metrics", "", "")
		if want := `timebank_http_streams_cut_total{route="/v1/export"} 1`; !strings.Contains(string(m.Body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	})
	t.Run("pipelined answers", func(t *testing.T) {
		e := newEnv(t, envOptions{options: api.Options{WriteIdle: writeIdle}, noSeed: true})
		// Far more answers than the socket buffers of stallingClient hold.
		stallingClient(t, e.srv.Handler(), strings.Repeat("GET /v1/policy HTTP/1.1\r\nHost: ledger\r\nAuthorization: Bearer "+adminSecret+"\r\n\r\n", 2000))
	})
	// Answers without a body (HEAD) are written by net/http after the handler, under the
	// deadline set when their request came (found by mutation testing: without it they
	// had none).
	t.Run("pipelined answers without a body", func(t *testing.T) {
		e := newEnv(t, envOptions{options: api.Options{WriteIdle: writeIdle}, noSeed: true})
		stallingClient(t, e.srv.Handler(), strings.Repeat("HEAD /v1/export HTTP/1.1\r\nHost: ledger\r\nAuthorization: Bearer "+adminSecret+"\r\n\r\n", 4000))
	})
}

// TestSlowReaderIsNotCut: a client that reads slowly, but reads, gets the whole answer,
// however much longer than the write-idle limit it takes: the limit is on the wait for the
// client to take some bytes, not on the answer, nor on one of the export's writes (2 MiB
// each, which a slow link takes longer than the limit to carry).
func TestSlowReaderIsNotCut(t *testing.T) {
	const (
		// A second: a busy machine (CI runs -race beside other packages) can hold the
		// reading goroutine for a good part of one, and must not fail the test.
		limit = time.Second
		lines = 240_000 // about 4 MB, in two writes: 64 reads of 64 KiB, 50 ms apart, 3.2 s in all
	)
	e := newEnv(t, envOptions{wrap: func(s ledger.Service) ledger.Service {
		return endlessExport{Service: s, lines: lines, perWrite: lines / 2}
	},
		options: api.Options{WriteIdle: limit}, noSeed: true})
	ts := httptest.NewUnstartedServer(e.srv.Handler())
	// Socket buffers far smaller than the answer (so that the server's writes wait for the
	// reads) but larger than loopback's segments (64 KiB), whose window updates would wait.
	ts.Listener = &smallBuffers{Listener: ts.Listener, bytes: 256 << 10, closed: make(chan struct{})}
	ts.Start()
	defer ts.Close()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(256 << 10)
		}
		return c, err
	}}}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/export", nil)
	req.Header.Set("Authorization", "Bearer "+adminSecret)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := make([]byte, 64<<10)
	n := 0
	start := time.Now()
	for {
		k, err := io.ReadFull(res.Body, buf)
		n += k
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes in %v: %v", n, time.Since(start), err)
		}
		time.Sleep(limit / 20)
	}
	if n != lines*len(exportLine) {
		t.Fatalf("read %d bytes in %v, want %d", n, time.Since(start), lines*len(exportLine))
	}
}

// stallingClient sends request to a server of h on a connection whose socket buffers are
// small, reads nothing, and waits until the server closes the connection (failing the
// test if it has not after 10 s, 50 times the limit).
func stallingClient(t *testing.T, h http.Handler, request string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	closed := make(chan struct{})
	ts.Listener = &smallBuffers{Listener: ts.Listener, bytes: 4 << 10, closed: closed}
	ts.Start()
	defer ts.Close()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() // on failure, this ends the stuck write: ts.Close can return
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	go io.WriteString(conn, request) // may block too, once the server stops reading
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("the server still holds the connection of a client that stopped reading, 10 s on (write-idle limit %v)", writeIdle)
	}
}

// smallBuffers is a listener whose connections have small send buffers (so that a client
// that stops reading soon blocks the server's writes) and that closes closed when the
// server closes its first connection.
type smallBuffers struct {
	net.Listener
	bytes  int // the send buffer's size
	closed chan struct{}
	once   sync.Once
}

func (l *smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c.(*net.TCPConn).SetWriteBuffer(l.bytes)
	return &closeSignal{Conn: c, l: l}, nil
}

type closeSignal struct {
	net.Conn
	l *smallBuffers
}

func (c *closeSignal) Close() error {
	c.l.once.Do(func() { close(c.l.closed) })
	return c.Conn.Close()
}

// exportLine is a line of endlessExport.
var exportLine = strings.Repeat("x", 16) + "\n"

// endlessExport exports lines of exportLine, perWrite of them (at least 1) a write as the
// store writes its chunks, without end when lines is 0, until a write fails.
type endlessExport struct {
	ledger.Service
	lines, perWrite int
}

func (x endlessExport) Export(ctx context.Context, afterSeq uint64, w io.Writer) error {
	chunk := strings.Repeat(exportLine, max(x.perWrite, 1))
	for i := 0; x.lines == 0 || i < x.lines; i += max(x.perWrite, 1) {
		if _, err := io.WriteString(w, chunk); err != nil {
			return err
		}
	}
	return nil
}
