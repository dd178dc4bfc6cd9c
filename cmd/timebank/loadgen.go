package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kong"

	"github.com/timebank/timebank/internal/idle"
)

// loadgenCmd loads a running server and prints throughput and latency (docs/PERFORMANCE.md).
type loadgenCmd struct {
	clientFlags `embed:""`
	Clients     int           `default:"64" help:"Concurrent keep-alive clients."`
	Duration    time.Duration `default:"10s" help:"How long each mode is measured."`
	Warmup      time.Duration `default:"1s" help:"Load before each measurement, not counted."`
	Mode        []string      `default:"credits" enum:"credits,reads,bare" help:"What to measure, in order: credits (durable writes), reads (balances), bare (an in-process bare Echo handler decoding a small JSON body: the HTTP ceiling)."`
	Residents   int           `default:"64" help:"Residents per client, credited in turn: each has ${sessions} fresh sessions (${sessions_per_day} a day over ${session_days} days), and a client's credits past ${sessions} × residents are answered 422 overlapping_session. Raise it for long or fast runs (--clients does not change this: each client has its own residents)."`
	Client      string        `default:"std" enum:"std,raw" help:"HTTP client of the load: std (net/http) or raw (HTTP/1.1 written and parsed by hand on one kept-alive connection per client: less of the shared CPU goes to the load generator; plain http:// only)."`
	Keys        string        `default:"ordered" enum:"ordered,random,resident" help:"Idempotency-Keys of the credits: ordered (increasing, as time-ordered UUIDv7 or ULID keys are), random (128 random bits, as UUIDv4 keys are) or resident (the resident's id and a count)."`
}

// result is one mode's measurement.
type result struct {
	mode      string
	requests  int
	errors    int
	firstErr  string
	elapsed   time.Duration
	latencies []time.Duration
}

// Run sets up what the modes need (a station, one resident per client, tokens), then runs
// each mode and prints a table. The station token it makes is revoked when it ends, however
// it ends but killed: its secret ends with the run, and nobody else could use or revoke it by
// what they hold. SIGINT and SIGTERM end the run early (exit 1), after that revocation.
func (c *loadgenCmd) Run(inv *invocation) (err error) {
	// The product is bounded by a division: 4 × 2^62 residents wraps around to 0.
	if c.Clients < 1 || c.Clients > 4096 || c.Residents < 1 || c.Residents > (1<<20)/c.Clients {
		return usagef("loadgen: --clients must be 1 to 4096, --residents at least 1, their product at most 2^20")
	}
	if c.Client == "raw" && strings.HasPrefix(strings.ToLower(c.URL), "https:") {
		return usagef("loadgen: --client raw speaks plain HTTP only; use --client std with an https --url")
	}
	ctx, stop := interruptible()
	defer stop()
	// Redirects are followed only within the server named, as by every client of the
	// command line (internal/idle): the admin and station tokens go nowhere else.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: c.Clients * 2, MaxIdleConnsPerHost: c.Clients * 2,
		MaxConnsPerHost: c.Clients * 2, DisableCompression: true, IdleConnTimeout: time.Minute}, Timeout: 30 * time.Second,
		CheckRedirect: idle.SameServer}
	var fx *fixture
	defer func() {
		if fx != nil {
			err = errors.Join(err, c.revoke(fx.stationID, inv.stderr))
		}
	}()
	var results []result
	for _, mode := range c.Mode {
		switch mode {
		case "bare":
			r, err := c.runBare(ctx, hc)
			if err != nil {
				return err
			}
			results = append(results, r)
		case "credits", "reads":
			if fx == nil {
				var err error
				if fx, err = c.setup(ctx, hc); err != nil {
					return err
				}
			}
			results = append(results, c.measure(ctx, mode, hc, fx.request(mode, c.URL)))
		}
		if ctx.Err() != nil {
			return errors.New("loadgen: interrupted")
		}
	}
	printResults(inv.stdout, results, c.Clients)
	return nil
}

// revoke revokes the station token id that setup made. When it cannot, it says so on w
// with the id, for an operator to revoke it.
func (c *loadgenCmd) revoke(id string, w io.Writer) error {
	res, err := c.client(30*time.Second).do(http.MethodDelete, "/v1/tokens/"+url.PathEscape(id), nil, http.StatusNoContent)
	if err != nil {
		fmt.Fprintf(w, "loadgen: the station token %s it made is still live: revoke it with timebank token revoke %s\n", id, id)
		return fmt.Errorf("loadgen: revoking the station token %s: %w", id, err)
	}
	res.Body.Close()
	return nil
}

// fixture is what the load needs on the server.
type fixture struct {
	admin, station string
	stationID      string     // the id of station's token, revoked at the end
	residents      [][]string // per client
	base           time.Time  // local midnight 28 days ago: sessions fill days from here
	next           []atomic.Int64
	keys           string       // --keys
	sent           atomic.Int64 // credits made so far, over all clients: ordered keys
	run            string
}

// idempotencyKey returns the key of the station's k-th credit to who (k counts who's client's
// credits). Where a key sorts decides where the store inserts its idempotency record:
// ordered keys append at the end of the station's records, random ones land on a random
// page each (docs/PERFORMANCE.md measures both).
func (fx *fixture) idempotencyKey(who string, k int64) string {
	switch fx.keys {
	case "random":
		var b [16]byte
		rand.Read(b[:])
		return hex.EncodeToString(b[:])
	case "resident":
		return fmt.Sprintf("%s-%d", who, k)
	default:
		return fmt.Sprintf("%s-%012d", fx.run, fx.sent.Add(1))
	}
}

// setup opens a station and Residents residents per client (distinct residents: no client
// waits on another's caps) under a fresh run id, and makes the station's token, labelled
// with the run id. It stops early when ctx ends.
func (c *loadgenCmd) setup(ctx context.Context, hc *http.Client) (*fixture, error) {
	run := fmt.Sprintf("lg%x", time.Now().UnixNano()&0xffffffff)
	a := &apiClient{base: strings.TrimRight(c.URL, "/"), token: c.Token, http: hc}
	open := func(id string) error {
		return a.write("/v1/accounts", "open-"+id, map[string]string{"id": id})
	}
	station := "station:" + run
	if err := open(station); err != nil {
		return nil, err
	}
	fx := &fixture{admin: c.Token, residents: make([][]string, c.Clients), next: make([]atomic.Int64, c.Clients), run: run, keys: c.Keys}
	var wg sync.WaitGroup
	errs := make(chan error, c.Clients)
	for i := range fx.residents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range c.Residents {
				if ctx.Err() != nil {
					errs <- errors.New("loadgen: interrupted")
					return
				}
				id := fmt.Sprintf("resident:%s-%d-%d", run, i, j)
				if err := open(id); err != nil {
					errs <- err
					return
				}
				fx.residents[i] = append(fx.residents[i], id)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	label := "loadgen " + run
	res, err := a.do(http.MethodPost, "/v1/tokens", map[string]string{"role": "station", "account": station, "label": label}, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var tok struct{ ID, Token string }
	if b, err := readAnswer(res.Body, maxTokenBytes, "the new token"); err != nil || json.Unmarshal(b, &tok) != nil || tok.ID == "" || tok.Token == "" {
		return nil, fmt.Errorf("loadgen: the server's answer with the station token it made cannot be read (%v): "+
			"revoke the token labelled %q (timebank token list)", err, label)
	}
	fx.station, fx.stationID = tok.Token, tok.ID
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Now().In(loc)
	fx.base = time.Date(now.Year(), now.Month(), now.Day()-28, 0, 0, 0, 0, loc)
	return fx, nil
}

// write posts one entry-creating request.
func (a *apiClient) write(path, key string, body any) error {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, a.base+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	res, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		return serverError(res)
	}
	return nil
}

// Each resident gets sessionsPerDay sessions of 0.01 h (36 s) a day, an hour apart from
// 08:00 local, on days running forward from 28 days ago (inside the 30-day backdate
// window): 224 credits per resident, a few sessions per day as a volunteer would have.
const (
	sessionSeconds = 36
	sessionsPerDay = 8
	sessionDays    = 28
)

// loadgenVars are the numbers of fresh sessions that --residents' help tells.
func loadgenVars() kong.Vars {
	return kong.Vars{
		"sessions":         strconv.Itoa(sessionsPerDay * sessionDays),
		"sessions_per_day": strconv.Itoa(sessionsPerDay),
		"session_days":     strconv.Itoa(sessionDays),
	}
}

// request returns the request maker of mode for client i (its k-th request).
func (fx *fixture) request(mode, base string) func(i int) *http.Request {
	base = strings.TrimRight(base, "/")
	if mode == "reads" {
		var n atomic.Int64
		return func(i int) *http.Request {
			rs := fx.residents[i]
			req, _ := http.NewRequest(http.MethodGet, base+"/v1/accounts/"+rs[int(n.Add(1))%len(rs)], nil)
			req.Header.Set("Authorization", "Bearer "+fx.admin)
			return req
		}
	}
	return func(i int) *http.Request {
		k := fx.next[i].Add(1) - 1
		rs := fx.residents[i]
		who, n := rs[int(k)%len(rs)], k/int64(len(rs))
		if n >= sessionsPerDay*sessionDays {
			n %= sessionsPerDay * sessionDays // out of fresh sessions: the server answers overlapping_session
		}
		day := fx.base.AddDate(0, 0, int(n/sessionsPerDay))
		start := day.Add(8*time.Hour + time.Duration(n%sessionsPerDay)*time.Hour)
		end := start.Add(sessionSeconds * time.Second)
		body := fmt.Sprintf(`{"volunteer":%q,"hours":"0.01","activity":{"id":"lg-%d","category":"loadgen","started_at":%q,"ended_at":%q}}`,
			who, k, start.Format(time.RFC3339), end.Format(time.RFC3339))
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/credits", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+fx.station)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fx.idempotencyKey(who, k))
		return req
	}
}

// measure runs Clients loops of mk for Warmup (not counted), then for Duration.
func (c *loadgenCmd) measure(parent context.Context, mode string, hc *http.Client, mk func(i int) *http.Request) result {
	var recording atomic.Bool
	ctx, cancel := context.WithTimeout(parent, c.Warmup+c.Duration)
	defer cancel()
	per := make([]result, c.Clients)
	var wg sync.WaitGroup
	for i := range c.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &per[i]
			r.latencies = make([]time.Duration, 0, 4096)
			var raw rawConn
			defer raw.close()
			for ctx.Err() == nil {
				start := time.Now()
				var status int
				var body []byte
				var err error
				if c.Client == "raw" {
					status, body, err = raw.send(mk(i))
				} else {
					status, body, err = send(hc, mk(i))
				}
				lat := time.Since(start)
				if !recording.Load() {
					continue
				}
				r.requests++
				r.latencies = append(r.latencies, lat)
				if err != nil || status >= 300 {
					r.errors++
					if r.firstErr == "" && ctx.Err() == nil {
						r.firstErr = describeFailure(status, err, body)
					}
				}
			}
		}()
	}
	select {
	case <-time.After(c.Warmup):
	case <-ctx.Done():
	}
	recording.Store(true)
	start := time.Now()
	wg.Wait()
	out := result{mode: mode, elapsed: time.Since(start)}
	for _, r := range per {
		out.requests += r.requests
		out.errors += r.errors
		out.latencies = append(out.latencies, r.latencies...)
		if out.firstErr == "" {
			out.firstErr = r.firstErr
		}
	}
	return out
}

// describeFailure says why a request failed: the transport's error, or the status and the
// error code and message of the answer (SPEC §7), e.g. "422 overlapping_session: …".
func describeFailure(status int, err error, body []byte) string {
	if err != nil {
		return err.Error()
	}
	if code, msg, ok := errorBody(body); ok {
		return fmt.Sprintf("%d %s: %.200s", status, code, msg)
	}
	return fmt.Sprintf("%d %.200s", status, bytes.TrimSpace(body))
}

func send(hc *http.Client, req *http.Request) (int, []byte, error) {
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var body []byte
	if res.StatusCode >= 300 {
		body, _ = io.ReadAll(io.LimitReader(res.Body, 1024))
	} else {
		io.Copy(io.Discard, res.Body)
	}
	return res.StatusCode, body, nil
}

// runBare measures the HTTP ceiling: an in-process Echo server whose one handler decodes a
// small JSON body (the shape of a credit) and answers 201 with a small JSON object.
func (c *loadgenCmd) runBare(ctx context.Context, hc *http.Client) (result, error) {
	url, stop, err := startBareEcho()
	if err != nil {
		return result{}, err
	}
	defer stop()
	payload := `{"volunteer":"resident:lg-1","hours":"0.01","activity":{"id":"lg-1","category":"loadgen","started_at":"2026-11-01T00:00:00+08:00","ended_at":"2026-11-01T00:00:36+08:00"}}`
	return c.measure(ctx, "bare", hc, func(int) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer x")
		req.Header.Set("Idempotency-Key", "k")
		return req
	}), nil
}

func printResults(out io.Writer, rs []result, clients int) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "mode\tclients\tseconds\trequests\terrors\treq/s\tp50 ms\tp99 ms\tp999 ms\t")
	rate := map[string]float64{}
	for _, r := range rs {
		slices.Sort(r.latencies)
		rate[r.mode] = float64(r.requests-r.errors) / r.elapsed.Seconds()
		fmt.Fprintf(w, "%s\t%d\t%.1f\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t\n", r.mode, clients, r.elapsed.Seconds(), r.requests, r.errors,
			rate[r.mode], ms(pct(r.latencies, 0.50)), ms(pct(r.latencies, 0.99)), ms(pct(r.latencies, 0.999)))
	}
	w.Flush()
	if rate["bare"] > 0 && rate["credits"] > 0 {
		fmt.Fprintf(out, "credits / bare Echo ceiling: %.2f\n", rate["credits"]/rate["bare"])
	}
	for _, r := range rs {
		if r.firstErr != "" {
			fmt.Fprintf(out, "%s: first error: %s\n", r.mode, r.firstErr)
		}
		if r.mode == "credits" && strings.Contains(r.firstErr, " overlapping_session: ") {
			fmt.Fprintf(out, "credits: the residents ran out of fresh sessions (%d each): raise --residents\n", sessionsPerDay*sessionDays)
		}
	}
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rawConn sends requests on one kept-alive HTTP/1.1 connection, writing the request and
// parsing the answer by hand (status line, Content-Length, body). It exists to spend less
// of the shared CPU in the load generator than net/http's client does; it understands only
// what the timebank server and the bare handler answer (no chunked bodies).
type rawConn struct {
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
}

func (rc *rawConn) close() {
	if rc.conn != nil {
		rc.conn.Close()
		rc.conn = nil
	}
}

// dialAddress is the host and port to connect to for u, an http URL: its port, or 80.
func dialAddress(u *url.URL) string {
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "80")
	}
	return u.Host
}

func (rc *rawConn) send(req *http.Request) (int, []byte, error) {
	if rc.conn == nil {
		conn, err := net.Dial("tcp", dialAddress(req.URL))
		if err != nil {
			return 0, nil, err
		}
		rc.conn, rc.r = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	b := rc.buf[:0]
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, req.URL.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, req.URL.Host...)
	b = append(b, "\r\n"...)
	for k, vs := range req.Header {
		b = append(b, k...)
		b = append(b, ": "...)
		b = append(b, vs[0]...)
		b = append(b, "\r\n"...)
	}
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	rc.buf = b
	status, answer, err := rc.roundTrip(b)
	if err != nil {
		rc.close()
	}
	return status, answer, err
}

func (rc *rawConn) roundTrip(req []byte) (int, []byte, error) {
	if _, err := rc.conn.Write(req); err != nil {
		return 0, nil, err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil || len(line) < 12 {
		return 0, nil, fmt.Errorf("bad status line %q: %v", line, err)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, err
	}
	length := -1
	for {
		h, err := rc.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		if len(h) <= 2 {
			break
		}
		if len(h) > 16 && strings.EqualFold(string(h[:15]), "Content-Length:") {
			length, _ = strconv.Atoi(strings.TrimSpace(string(h[15:])))
		}
	}
	if length < 0 {
		return 0, nil, errors.New("answer without Content-Length")
	}
	answer := make([]byte, length)
	if _, err := io.ReadFull(rc.r, answer); err != nil {
		return 0, nil, err
	}
	return status, answer, nil
}
