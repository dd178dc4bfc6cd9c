package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/timebank/timebank/ledger"
)

// HeaderIdempotencyKey names the header every entry-creating write needs (SPEC §3).
const HeaderIdempotencyKey = "Idempotency-Key"

// HeaderReplayed is set on the answer to a replayed write.
const HeaderReplayed = "Idempotent-Replayed"

// readWrite checks what every entry-creating write needs before its body's own shape: the
// media type (415), the Idempotency-Key header (400), then decodes the body strictly.
func readWrite(c echo.Context, body any, kind kindOfBody) (string, error) {
	if err := checkMediaType(c); err != nil {
		return "", err
	}
	// Two keys are one request named two ways: whichever were taken, a retry with the
	// headers in the other order would be a new request.
	if n := len(c.Request().Header.Values(HeaderIdempotencyKey)); n > 1 {
		return "", ledger.Errorf(ledger.CodeMissingIdempotencyKey,
			"Send one Idempotency-Key header with every write; this request has %d.", n)
	}
	key := c.Request().Header.Get(HeaderIdempotencyKey)
	if !ledger.ValidIdempotencyKey(key) {
		return "", ledger.Errorf(ledger.CodeMissingIdempotencyKey,
			"Send an Idempotency-Key header of 1 to %d printable ASCII characters with every write.", ledger.MaxIdempotencyKey)
	}
	raw, err := readBody(c)
	if err != nil {
		return "", err
	}
	return key, decodeStrict(raw, body, kind)
}

// submit finishes a write once its body is decoded and path parameters are set: shape
// (400), authentication and role (401, 403), then the ledger decides (404, 409, 422, …).
// fill, when set, completes the body from the principal after the role check.
func (s *Server) submit(c echo.Context, g gate, key string, body ledger.Body, fill func(ledger.Principal) error) error {
	if err := s.shape(body); err != nil {
		return err
	}
	p, err := g.check(s, c)
	if err != nil {
		return err
	}
	if fill != nil {
		if err := fill(p); err != nil {
			return err
		}
	}
	busy := p.Actor() + "\x00" + key
	if !s.inflight.acquire(busy) {
		return ledger.Errorf(ledger.CodeRequestInProgress,
			"A request with this Idempotency-Key is still being processed; retry in a moment to get its answer.")
	}
	defer s.inflight.release(busy)
	e, replayed, err := s.svc.Submit(c.Request().Context(), ledger.Request{Principal: p, IdempotencyKey: key, Body: body})
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
		c.Response().Header().Set(HeaderReplayed, "true")
	}
	out, err := s.entryJSON(e)
	if err != nil {
		return err
	}
	return c.JSONBlob(status, out)
}

// entryJSON is the canonical JSON of e, the same bytes as its export line; a hold's answer
// adds hold_id (its seq) and expires_at.
func (s *Server) entryJSON(e *ledger.Entry) ([]byte, error) {
	b, err := ledger.EncodeEntry(e, s.svc.Assets())
	if err != nil {
		return nil, err
	}
	hb, ok := e.Body.(*ledger.HoldBody)
	if !ok || e.Type != ledger.TypeHold {
		return b, nil
	}
	ttl := hb.TTLSeconds
	if ttl == 0 { // the engine normalises it; this only guards an older entry
		ttl = s.svc.Policy().Hold.DefaultTTLSeconds
	}
	expires := ledger.FormatTime(e.TimeMicros + ttl*1_000_000)
	out := make([]byte, 0, len(b)+64)
	out = append(out, b[:len(b)-1]...)
	out = append(out, `,"hold_id":`...)
	out = strconv.AppendUint(out, e.Seq, 10)
	out = append(out, `,"expires_at":"`...)
	out = append(out, expires...)
	out = append(out, `"}`...)
	return out, nil
}

// postBody is the handler of a write whose body is all in the JSON.
func (s *Server) postBody(newBody func() ledger.Body) handler {
	return func(c echo.Context, g gate) error {
		body := newBody()
		key, err := readWrite(c, body, entryBody)
		if err != nil {
			return err
		}
		return s.submit(c, g, key, body, nil)
	}
}

func (s *Server) postOpen(c echo.Context, g gate) error {
	var b ledger.OpenBody
	key, err := readWrite(c, &b, entryBody)
	if err != nil {
		return err
	}
	return s.submit(c, g, key, &b, func(p ledger.Principal) error {
		if p.Role == ledger.RoleStation && b.ID.Kind() != ledger.KindResident {
			return ledger.Errorf(ledger.CodeForbidden, "A station may open resident accounts only.")
		}
		return nil
	})
}

func (s *Server) postCredit(c echo.Context, g gate) error {
	var b ledger.CreditBody
	key, err := readWrite(c, &b, entryBody)
	if err != nil {
		return err
	}
	return s.submit(c, g, key, &b, func(p ledger.Principal) error {
		switch {
		case p.Role == ledger.RoleAdmin && b.Station == "":
			return invalidField("station", "An admin crediting hours must name the crediting station.")
		case p.Role == ledger.RoleStation && b.Station != "" && b.Station != p.Account:
			return ledger.Errorf(ledger.CodeForbidden, "A station credits hours as itself only; leave out station or name your own.")
		case p.Role == ledger.RoleStation:
			b.Station = p.Account
		}
		return nil
	})
}

// The bodies of the writes whose object comes from the URL path. The path's field is not
// one of their members, so the strict decoder refuses it in the body whatever its value:
// decoded into the ledger's body, "hold_id":0 or "account":"" would pass as absent.
type (
	freezeRequest struct {
		Reason string `json:"reason"`
	}
	settleRequest struct {
		Amount string `json:"amount"`
	}
	voidRequest struct{}
)

// notInBody says that field comes from the URL path when the body sent it (an
// unknown_field of the decoder naming it), and passes any other error through.
func notInBody(err error, field string) error {
	if le, ok := err.(*ledger.Error); ok && le.Code == ledger.CodeUnknownField && le.Details["field"] == field {
		return ledger.Errorf(ledger.CodeUnknownField, "The field %q comes from the URL path; leave it out of the body.", field).
			With("field", field)
	}
	return err
}

func (s *Server) postFreeze(unfreeze bool) handler {
	return func(c echo.Context, g gate) error {
		var r freezeRequest
		key, err := readWrite(c, &r, entryBody)
		if err != nil {
			return notInBody(err, "account")
		}
		b := &ledger.FreezeBody{Account: ledger.AccountID(pathParam(c, "id")), Reason: r.Reason, Unfreeze: unfreeze}
		return s.submit(c, g, key, b, nil)
	}
}

func (s *Server) postSettle(c echo.Context, g gate) error {
	var r settleRequest
	key, err := readWrite(c, &r, entryBody)
	if err != nil {
		return notInBody(err, "hold_id")
	}
	b := &ledger.SettleBody{Amount: r.Amount}
	if b.HoldID, err = holdIDParam(c); err != nil {
		return err
	}
	return s.submit(c, g, key, b, nil)
}

func (s *Server) postVoid(c echo.Context, g gate) error {
	var r voidRequest
	key, err := readWrite(c, &r, entryBody)
	if err != nil {
		return notInBody(err, "hold_id")
	}
	b := &ledger.VoidBody{}
	if b.HoldID, err = holdIDParam(c); err != nil {
		return err
	}
	return s.submit(c, g, key, b, nil)
}

// holdIDParam is the hold id of the URL path.
func holdIDParam(c echo.Context) (uint64, error) { return parseUint("hold id", pathParam(c, "id")) }

func (s *Server) putPolicy(c echo.Context, g gate) error {
	var b ledger.PolicyBody
	key, err := readWrite(c, &b, policyBody)
	if err != nil {
		return err
	}
	return s.submit(c, g, key, &b, nil)
}

// pathParam returns path parameter name, unescaped once (account ids hold a colon, which a
// client may send as %3A). Echo routes on URL.RawPath when net/http kept one (the path had
// an escape its default encoding would not write, such as %3A), and its parameters are then
// still escaped; else on URL.Path, which net/http has already unescaped: unescaping that
// again would let resident%253Ar01 name resident:r01.
func pathParam(c echo.Context, name string) string {
	v := c.Param(name)
	if c.Request().URL.RawPath != "" && strings.IndexByte(v, '%') >= 0 {
		if u, err := url.PathUnescape(v); err == nil {
			return u
		}
	}
	return v
}
