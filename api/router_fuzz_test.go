package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/timebank/timebank/ledger"
)

// FuzzRouter drives the real router (api.New over the bbolt store, as `timebank serve`
// wires it) with requests the fuzzer chooses: a route of the router's own table with fuzzed
// path parameters and query, or a raw path; the route's method or an odd one; a token of
// every role, none, a wrong, revoked or malformed one; Content-Type and charset variants;
// Idempotency-Key absent, empty, at and over its limit, odd, repeated; and a body, fuzzed
// bytes or a valid request of the route with one value replaced. Each answer must hold
// what SPEC §7 and §3 promise whatever the input (router_fuzz_check_test.go): no 5xx and
// nothing logged at level Error (a panic is both), every error in exactly the shape of
// §7 with a code §7 lists for its status, every 2xx write a well-formed entry of the
// route's type that GET /v1/entries/{seq} reads back, and the log grows by one entry
// exactly when a write answers 201.
//
// Fuzz: go test ./api -run '^$' -fuzz FuzzRouter -fuzztime 10m
// (TMPDIR=/dev/shm spares the disk the commits' fsyncs).
func FuzzRouter(f *testing.F) {
	w := newFuzzWorld(f)
	for _, s := range w.seeds() {
		in := s.in
		f.Add(in.Route, in.Method, in.PathMode, in.Who, in.CType, in.KeyMode, in.Flags, in.Field,
			in.Param, in.Query, in.Key, in.Hdr, in.Body)
	}
	f.Fuzz(func(t *testing.T, route, method, pathMode, who, ctype, keyMode, flags, field uint8,
		param, query, key, hdr string, body []byte) {
		w.e.t = t
		w.exchange(t, fuzzInput{route, method, pathMode, who, ctype, keyMode, flags, field, param, query, key, hdr, body})
	})
}

// fuzzInput is one request as the fuzzer chooses it. Each selector byte picks from a list,
// as the comments of the lists below say; seeds spell their choices with those lists.
type fuzzInput struct {
	Route    uint8 // < rawRoute: w.routes[Route % len]; else Param is the raw request target
	Method   uint8 // < 128: the route's own; else oddMethods[Method % len]
	PathMode uint8 // per path parameter: < fromParam: w.pathValues[PathMode % len]; else Param, raw or escaped
	Who      uint8 // whoModes[Who % len]
	CType    uint8 // contentTypes[CType % len]
	KeyMode  uint8 // keyMode[KeyMode % keyModes]
	Flags    uint8 // flag bits
	Field    uint8 // with flagStructured: which value of the route's valid body Hdr replaces
	Param    string
	Query    string // sent after '?' when not empty
	Key      string // Idempotency-Key in keyRaw and keyTwice
	Hdr      string // raw header values (whoRaw, whoBearer, ctHdr) and flagStructured's value
	Body     []byte
}

// Selector values.
const (
	rawRoute   = 240 // Route at or above: a raw target
	oddMethod  = 128 // Method at or above: one of oddMethods
	fromParam  = 160 // PathMode at or above: Param, raw below escParam, path-escaped from it
	escParam   = 224
	replaceKey = 128 // Field at or above: Hdr is added as a member name instead
)

var oddMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT",
	"PROPFIND", "get", "QUERY"}

// whoModes: a named token of the world (admin … frozen, revoked), or how the header is bent.
var whoModes = []string{"admin", "auditor", "station", "station2", "outlet", "resident", "resident2", "frozen",
	"revoked", whoNone, whoWrong, whoRaw, whoBearer, whoLower, whoBasic, whoSpaces, whoTwice}

const (
	whoNone   = "<none>"   // no Authorization header
	whoWrong  = "<wrong>"  // a well-formed secret no token has
	whoRaw    = "<raw>"    // Authorization: Hdr
	whoBearer = "<bearer>" // Authorization: Bearer Hdr
	whoLower  = "<lower>"  // bearer (lower case) and the admin secret
	whoBasic  = "<basic>"  // another scheme
	whoSpaces = "<spaces>" // Bearer, the admin secret, padded with spaces
	whoTwice  = "<twice>"  // two Authorization headers, the admin's first: 401
	ctNone    = "<none>"   // no Content-Type header
	ctHdr     = "<hdr>"    // Content-Type: Hdr
	ctTwice   = "<twice>"  // application/json, then text/plain
	wrongAuth = "tb_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
)

var contentTypes = []string{"application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8",
	`application/json; charset="utf-8"`, "Application/JSON", ctNone, "", "text/plain", "application/json; charset=latin1",
	"application/json; charset=utf-16", "application/json; foo=bar", "application/json; charset=utf-8; charset=latin1", "application/json; charset=utf-8; charset=utf-8",
	"application/jsonx", "application/merge-patch+json", "application/x-www-form-urlencoded", "application/json;",
	"multipart/form-data; boundary=x", ctHdr, ctTwice}

// Key modes.
const (
	keyFresh   = iota // a key no request used
	keyAbsent         // no header
	keyEmpty          // an empty header
	keyRaw            // Key
	keyMax            // a fresh key of exactly ledger.MaxIdempotencyKey characters
	keyTooLong        // one character more
	keyRepeat         // the previous request's key
	keyFixed          // one key for every input: replays, or reuse with another body
	keyTwice          // two headers: a fresh key, then Key: 400
	keyModes
)

// Flag bits.
const (
	flagChunked    = 1 << iota // no Content-Length: the body is sent chunked
	flagPadToLimit             // spaces after the body up to exactly the 64 KiB limit
	flagPadOver                // … to one byte over it
	flagTick                   // the clock moves 10 minutes first (until maxAdvance)
	flagNoBody                 // no body at all
	flagCutBody                // the client goes away half-way through the body
	flagStructured             // the body is the route's valid one with one value replaced (Field, Hdr)
)

const bodyLimitBytes = 64 << 10 // SPEC §7

// sent is a request as the server reads it, with what its answer is checked against.
type sent struct {
	req   *http.Request
	desc  string // the request as the failure messages show it
	actor string // the actor its writes must carry; "" when the principal is not known
	key   string // the Idempotency-Key the server reads

	method, target string
	hdrs           [][2]string
	body           []byte // nil: none
	chunked        bool
}

// exchange sends in and checks the answer. It sends nothing when in is a request that
// net/http itself refuses before any handler runs (a control byte in a header or the
// target, an unparsable target): the router never sees those.
func (w *fuzzWorld) exchange(t *testing.T, in fuzzInput) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	if in.Flags&flagTick != 0 && w.advanced < maxAdvance {
		w.e.clk.Advance(10 * time.Minute)
		w.advanced += 10 * time.Minute
	}
	s, ok := w.request(in)
	if !ok {
		return nil, false
	}
	w.probe.take()
	before := w.e.led.TreeSize()
	rec := httptest.NewRecorder()
	w.e.srv.Handler().ServeHTTP(rec, s.req)
	w.check(t, s, rec, before)
	return rec, true
}

// request builds the request in describes as raw HTTP/1.1 and reads it back with
// http.ReadRequest, as the server would: header values are trimmed, repeated headers kept,
// chunked bodies decoded, bad targets refused.
func (w *fuzzWorld) request(in fuzzInput) (sent, bool) {
	method, target := w.target(in)
	var s sent
	var hdrs [][2]string
	add := func(name, value string) { hdrs = append(hdrs, [2]string{name, value}) }
	s.actor = w.authorize(in, add)
	switch ct := contentTypes[int(in.CType)%len(contentTypes)]; ct {
	case ctNone:
	case ctHdr:
		add("Content-Type", in.Hdr)
	case ctTwice:
		add("Content-Type", "application/json")
		add("Content-Type", "text/plain")
	default:
		add("Content-Type", ct)
	}
	w.idempotencyKey(in, add)
	s.method, s.target, s.hdrs, s.body, s.chunked = method, target, hdrs, w.body(in, method), in.Flags&flagChunked != 0
	req, ok := s.build(s.body)
	if !ok {
		return s, false
	}
	if in.Flags&flagCutBody != 0 && s.body != nil {
		req.Body = &cutBody{r: req.Body, left: len(s.body) / 2}
	}
	s.req, s.key = req, req.Header.Get("Idempotency-Key")
	s.desc = fmt.Sprintf("%s %s\n%q\nbody (%d bytes): %.300q", method, target, hdrs, len(s.body), s.body)
	return s, true
}

// build makes the request of s with body as raw HTTP/1.1 and reads it back as the server
// would; false when net/http refuses it before any handler runs.
func (s sent) build(body []byte) (*http.Request, bool) {
	if strings.ContainsFunc(s.target, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, false
	}
	var raw bytes.Buffer
	fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: timebank.test\r\n", s.method, s.target)
	for _, h := range s.hdrs {
		if !validHeaderValue(h[1]) {
			return nil, false
		}
		fmt.Fprintf(&raw, "%s: %s\r\n", h[0], h[1])
	}
	switch {
	case body == nil:
		raw.WriteString("\r\n")
	case s.chunked:
		raw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		if len(body) > 0 {
			fmt.Fprintf(&raw, "%x\r\n%s\r\n", len(body), body)
		}
		raw.WriteString("0\r\n\r\n")
	default:
		fmt.Fprintf(&raw, "Content-Length: %d\r\n\r\n%s", len(body), body)
	}
	req, err := http.ReadRequest(bufio.NewReader(&raw))
	if err != nil {
		return nil, false
	}
	req.RemoteAddr = "192.0.2.1:1234"
	return req, true
}

// validHeaderValue reports whether net/http would take v as a header value: no control
// byte but tab (the obs-text bytes 0x80–0xff are allowed).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// cutBody is a request body whose client goes away after left bytes.
type cutBody struct {
	r    io.ReadCloser
	left int
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n, err := c.r.Read(p[:min(len(p), c.left)])
	c.left -= n
	return n, err
}

func (c *cutBody) Close() error { return c.r.Close() }

// target returns the method and the request target of in.
func (w *fuzzWorld) target(in fuzzInput) (method, target string) {
	method = oddMethods[int(in.Method)%len(oddMethods)]
	if in.Route >= rawRoute {
		target = in.Param
	} else {
		r := w.routes[int(in.Route)%len(w.routes)]
		if in.Method < oddMethod {
			method = r.Method
		}
		segs := strings.Split(r.Path, "/")
		for i, seg := range segs {
			if strings.HasPrefix(seg, ":") {
				segs[i] = w.pathValue(r.Path, in)
			}
		}
		target = strings.Join(segs, "/")
	}
	if in.Query != "" {
		target += "?" + in.Query
	}
	return method, target
}

// pathValue is the value of a path parameter of route.
func (w *fuzzWorld) pathValue(route string, in fuzzInput) string {
	switch {
	case in.PathMode >= escParam:
		return url.PathEscape(in.Param)
	case in.PathMode >= fromParam:
		return in.Param
	}
	values := w.pathValues(route)
	switch v := values[int(in.PathMode)%len(values)]; v {
	case freshToken:
		tok, _, err := w.e.led.CreateToken(ledger.RoleAuditor, "", "to revoke")
		if err != nil {
			w.e.t.Fatal(err)
		}
		return tok.ID
	case latestSeq:
		return strconv.FormatUint(w.e.led.TreeSize(), 10)
	default:
		return v
	}
}

// authorize adds the Authorization header(s) of in and returns the actor of the principal
// they name ("" when none or unknown).
func (w *fuzzWorld) authorize(in fuzzInput, add func(name, value string)) string {
	admin := w.secrets["admin"]
	switch who := whoModes[int(in.Who)%len(whoModes)]; who {
	case whoNone:
	case whoWrong:
		add("Authorization", "Bearer "+wrongAuth)
	case whoRaw:
		add("Authorization", in.Hdr)
	case whoBearer:
		add("Authorization", "Bearer "+in.Hdr)
	case whoLower:
		add("Authorization", "bearer "+admin)
		return w.adminActor
	case whoBasic:
		add("Authorization", "Basic YWRtaW46"+admin)
	case whoSpaces:
		add("Authorization", "Bearer    "+admin+"   ")
		return w.adminActor
	case whoTwice: // two credentials: neither acts (decision 0005)
		add("Authorization", "Bearer "+admin)
		add("Authorization", "Bearer "+wrongAuth)
	default:
		add("Authorization", "Bearer "+w.secrets[who])
		return w.actors[who]
	}
	return ""
}

// idempotencyKey adds the Idempotency-Key header(s) of in.
func (w *fuzzWorld) idempotencyKey(in fuzzInput, add func(name, value string)) {
	fresh := func() string { return fmt.Sprintf("fz-%d", w.e.keyN.Add(1)) }
	var key string
	switch in.KeyMode % keyModes {
	case keyFresh:
		key = fresh()
	case keyAbsent:
		return
	case keyEmpty:
	case keyRaw:
		key = in.Key
	case keyMax, keyTooLong:
		key = fresh()
		n := ledger.MaxIdempotencyKey
		if in.KeyMode%keyModes == keyTooLong {
			n++
		}
		key += strings.Repeat("k", n-len(key))
	case keyRepeat:
		key = w.lastKey
	case keyFixed:
		key = "fuzz-fixed-key"
	case keyTwice:
		key = fresh()
		add("Idempotency-Key", key)
		key = in.Key
	}
	add("Idempotency-Key", key)
	w.lastKey = key
}

// body returns the body of in: nil for none, else the fuzzed or structured bytes, padded.
func (w *fuzzWorld) body(in fuzzInput, method string) []byte {
	if in.Flags&flagNoBody != 0 {
		return nil
	}
	body := in.Body
	if in.Flags&flagStructured != 0 {
		body = w.structured(in, method)
	}
	pad := 0
	switch {
	case in.Flags&flagPadOver != 0:
		pad = bodyLimitBytes + 1 - len(body)
	case in.Flags&flagPadToLimit != 0:
		pad = bodyLimitBytes - len(body)
	}
	if pad > 0 {
		body = append(slices.Clip(body), bytes.Repeat([]byte{' '}, pad)...)
	}
	if body == nil {
		body = []byte{}
	}
	return body
}

// structured returns the valid body of in's route (the first valid seed's; {} for a route
// without one) with the Field-th value, in a walk of sorted keys, replaced by Hdr: the raw
// JSON when Hdr is valid JSON, else Hdr as a string. From replaceKey on, Field instead adds
// Hdr as a member name of the top object.
func (w *fuzzWorld) structured(in fuzzInput, method string) []byte {
	base := []byte("{}")
	if in.Route < rawRoute {
		r := w.routes[int(in.Route)%len(w.routes)]
		if b, ok := w.validBodies()[method+" "+r.Path]; ok {
			base = []byte(b)
		}
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(base))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		w.e.t.Fatalf("valid body %s: %v", base, err)
	}
	var value any = in.Hdr
	if json.Valid([]byte(in.Hdr)) {
		value = json.RawMessage(in.Hdr)
	}
	if top, ok := doc.(map[string]any); ok && in.Field >= replaceKey {
		top[in.Hdr] = value
	} else {
		slots := valueSlots(&doc, nil)
		if len(slots) > 0 {
			*slots[int(in.Field)%len(slots)] = value
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		w.e.t.Fatalf("marshal %v: %v", doc, err)
	}
	return out
}

// valueSlots appends a pointer to every value inside *v (members and elements, nested
// ones too), members in key order.
func valueSlots(v *any, slots []*any) []*any {
	switch x := (*v).(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			slot := new(any)
			*slot = x[k]
			slots = append(slots, slot)
			slots = valueSlots(slot, slots)
			x[k] = &lazy{slot}
		}
	case []any:
		for i := range x {
			slot := new(any)
			*slot = x[i]
			slots = append(slots, slot)
			slots = valueSlots(slot, slots)
			x[i] = &lazy{slot}
		}
	}
	return slots
}

// lazy marshals the value its slot holds when the document is written, so that a slot
// can be replaced after the walk.
type lazy struct{ slot *any }

func (l *lazy) MarshalJSON() ([]byte, error) { return json.Marshal(*l.slot) }
