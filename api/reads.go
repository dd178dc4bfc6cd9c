package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/timebank/timebank/ledger"
)

// Paging limits of SPEC §4.
const (
	defaultPageLimit = 100
	maxPageLimit     = 500
)

// queryParam returns the value of query parameter name, "" when it is absent. A query that
// does not parse (a bad %-escape; a ';', which Go no longer takes as a separator) or that
// gives name twice is 400 invalid_field: url.Values drops a pair it cannot read and keeps
// the first of two, so the read would answer as if something else had been asked (a page
// or an export from the start of the log, a proof for another size). Other parameters are
// left alone.
func queryParam(c echo.Context, name string) (string, error) {
	raw := c.Request().URL.RawQuery
	if raw == "" {
		return "", nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		shown := raw
		if len(shown) > 64 {
			shown = shown[:64] + "…"
		}
		return "", invalidField("query", "The query string %q cannot be read: separate parameters with '&' and escape '%%' as %%25.", shown)
	}
	if vs := q[name]; len(vs) > 1 {
		return "", invalidField(name, "%s is given %d times; give it once.", name, len(vs))
	}
	return q.Get(name), nil
}

// queryUint reads an optional whole-number query parameter (400 invalid_field); given says
// whether it was there.
func queryUint(c echo.Context, name string) (v uint64, given bool, err error) {
	s, err := queryParam(c, name)
	if err != nil || s == "" {
		return 0, false, err
	}
	v, err = parseUint(name, s)
	return v, true, err
}

// page reads ?after_seq= (default 0) and ?limit= (1–500, default 100): 400 invalid_field.
func page(c echo.Context) (afterSeq uint64, limit int, err error) {
	if afterSeq, _, err = queryUint(c, "after_seq"); err != nil {
		return 0, 0, err
	}
	limit = defaultPageLimit
	v, err := queryParam(c, "limit")
	if err != nil {
		return 0, 0, err
	}
	if v != "" {
		n, err := parseUint("limit", v)
		if err != nil || n < 1 || n > maxPageLimit {
			return 0, 0, invalidField("limit", "limit must be 1 to %d.", maxPageLimit).With("max", maxPageLimit)
		}
		limit = int(n)
	}
	return afterSeq, limit, nil
}

// pathAccount reads the {id} path parameter as an account id (400 invalid_account).
func pathAccount(c echo.Context) (ledger.AccountID, error) {
	return ledger.ParseAccountID(pathParam(c, "id"), true)
}

// visibleAccount returns account id if p may see it; else 404 exactly as if missing.
func (s *Server) visibleAccount(p ledger.Principal, id ledger.AccountID) (*ledger.Account, error) {
	if !canSeeAccount(p, id) {
		return nil, errNotFound("account")
	}
	a, err := s.svc.Account(id)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, errNotFound("account")
	}
	return a, nil
}

func (s *Server) getAccount(c echo.Context, g gate) error {
	id, err := pathAccount(c)
	if err != nil {
		return err
	}
	p, err := g.check(s, c)
	if err != nil {
		return err
	}
	a, err := s.visibleAccount(p, id)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, s.accountJSON(a, s.readNow()))
}

// accountJSON is {id, kind, status, opened_at, balances:{ASSET:{balance, held, available,
// earned}}} with every asset of the ledger in code order, held and available as of now.
// Written by hand: balance reads are the hottest read, and this is a third of their cost
// through encoding/json's reflection and map sorting. The golden and OpenAPI tests pin it.
func (s *Server) accountJSON(a *ledger.Account, now int64) []byte {
	status := "active"
	if a.Frozen {
		status = "frozen"
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"id":`...)
	b = strconv.AppendQuote(b, string(a.ID))
	b = append(b, `,"kind":`...)
	b = strconv.AppendQuote(b, string(a.ID.Kind()))
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","opened_at":"`...)
	b = append(b, ledger.FormatTime(a.OpenedAt)...)
	b = append(b, `","balances":{`...)
	for i, asset := range s.assets() {
		bal := a.Balances[asset.code]
		held := a.Held(asset.code, now)
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, asset.code)
		for j, f := range [4]struct {
			name string
			v    int64
		}{{"balance", bal.Balance}, {"held", held}, {"available", bal.Balance - held}, {"earned", bal.Earned}} {
			if j == 0 {
				b = append(b, `:{"`...)
			} else {
				b = append(b, `,"`...)
			}
			b = append(b, f.name...)
			b = append(b, `":"`...)
			b = append(b, formatAmount(f.v, asset.scale)...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	return append(b, "}}"...)
}

// assetInfo is an asset code with its scale.
type assetInfo struct {
	code  string
	scale int
}

// assets returns the ledger's assets in code order. They are fixed at genesis, so the list
// is made once.
func (s *Server) assets() []assetInfo {
	s.assetsOnce.Do(func() {
		as := s.svc.Assets()
		for _, code := range as.Codes() {
			s.assetList = append(s.assetList, assetInfo{code: code, scale: as[code].Scale})
		}
	})
	return s.assetList
}

type postingJSON struct {
	From   ledger.AccountID `json:"from"`
	To     ledger.AccountID `json:"to"`
	Asset  string           `json:"asset"`
	Amount string           `json:"amount"`
}

type statementLineJSON struct {
	Seq           uint64            `json:"seq"`
	Time          string            `json:"time"`
	Type          ledger.Type       `json:"type"`
	Actor         string            `json:"actor"`
	Postings      []postingJSON     `json:"postings"`
	BalancesAfter map[string]string `json:"balances_after"`
}

type statementJSON struct {
	Entries      []statementLineJSON `json:"entries"`
	NextAfterSeq *uint64             `json:"next_after_seq"`
}

func (s *Server) getStatement(c echo.Context, g gate) error {
	id, err := pathAccount(c)
	if err != nil {
		return err
	}
	after, limit, err := page(c)
	if err != nil {
		return err
	}
	p, err := g.check(s, c)
	if err != nil {
		return err
	}
	if _, err := s.visibleAccount(p, id); err != nil {
		return err
	}
	// One more than the page tells whether there is a next page (the store reads a full
	// page and one row of look-ahead in one transaction; see store.MaxReadLimit).
	lines, err := s.svc.AccountEntries(id, after, limit+1)
	if err != nil {
		return err
	}
	out := statementJSON{Entries: make([]statementLineJSON, 0, min(len(lines), limit))}
	assets := s.svc.Assets()
	for i, l := range lines {
		if i == limit {
			next := lines[limit-1].Entry.Seq
			out.NextAfterSeq = &next
			break
		}
		out.Entries = append(out.Entries, statementLine(l, assets))
	}
	return c.JSON(http.StatusOK, out)
}

func statementLine(l ledger.StatementLine, assets ledger.Assets) statementLineJSON {
	e := l.Entry
	out := statementLineJSON{Seq: e.Seq, Time: ledger.FormatTime(e.TimeMicros), Type: e.Type, Actor: e.Actor,
		Postings: make([]postingJSON, len(e.Postings)), BalancesAfter: map[string]string{}}
	for i, p := range e.Postings {
		scale, _ := assets.Scale(p.Asset)
		out.Postings[i] = postingJSON{From: p.From, To: p.To, Asset: p.Asset, Amount: formatAmount(p.Amount, scale)}
	}
	// Every asset of the ledger, 0 where the account never held it: a statement line always
	// shows the whole position.
	for asset, spec := range assets {
		out.BalancesAfter[asset] = formatAmount(l.BalancesAfter[asset], spec.Scale)
	}
	return out
}

func (s *Server) getEntries(c echo.Context, g gate) error {
	after, limit, err := page(c)
	if err != nil {
		return err
	}
	if _, err := g.check(s, c); err != nil {
		return err
	}
	entries, err := s.svc.Entries(after, limit+1) // one more: is there a next page?
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString(`{"entries":[`)
	for i, e := range entries {
		if i == limit {
			break
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		b, err := s.entryJSON(e)
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	buf.WriteString(`],"next_after_seq":`)
	if len(entries) > limit {
		buf.WriteString(strconv.FormatUint(entries[limit-1].Seq, 10))
	} else {
		buf.WriteString("null")
	}
	buf.WriteByte('}')
	return c.JSONBlob(http.StatusOK, buf.Bytes())
}

// visibleEntry returns entry seq if p may see it: admins and auditors see every entry, the
// others those they are party to (ledger.Parties). Else 404 exactly as if missing.
func (s *Server) visibleEntry(p ledger.Principal, seq uint64) (*ledger.Entry, error) {
	e, err := s.svc.Entry(seq)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, errNotFound("entry")
	}
	if p.Role == ledger.RoleAdmin || p.Role == ledger.RoleAuditor {
		return e, nil
	}
	parties, err := ledger.Parties(serviceView{s.svc}, e)
	if err != nil {
		return nil, err
	}
	for _, id := range parties {
		if id == p.Account {
			return e, nil
		}
	}
	return nil, errNotFound("entry")
}

func (s *Server) getEntry(c echo.Context, g gate) error {
	seq, err := parseUint("seq", pathParam(c, "seq"))
	if err != nil {
		return err
	}
	p, err := g.check(s, c)
	if err != nil {
		return err
	}
	e, err := s.visibleEntry(p, seq)
	if err != nil {
		return err
	}
	b, err := s.entryJSON(e)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, b)
}

type holdJSON struct {
	HoldID    uint64            `json:"hold_id"`
	Resident  ledger.AccountID  `json:"resident"`
	Payee     ledger.AccountID  `json:"payee"`
	Asset     string            `json:"asset"`
	Amount    string            `json:"amount"`
	Status    ledger.HoldStatus `json:"status"`
	ExpiresAt string            `json:"expires_at"`
}

func (s *Server) getHold(c echo.Context, g gate) error {
	id, err := parseUint("hold id", pathParam(c, "id"))
	if err != nil {
		return err
	}
	p, err := g.check(s, c)
	if err != nil {
		return err
	}
	h, err := s.svc.Hold(id)
	if err != nil {
		return err
	}
	if h == nil || !ledger.CanSeeHold(p, h) {
		return errNotFound("hold")
	}
	scale, _ := s.svc.Assets().Scale(h.Asset)
	return c.JSON(http.StatusOK, holdJSON{HoldID: h.ID, Resident: h.Resident, Payee: h.Payee, Asset: h.Asset,
		Amount: formatAmount(h.Amount, scale), Status: h.StatusAt(s.readNow()),
		ExpiresAt: ledger.FormatTime(h.ExpiresAt)})
}

const textPlain = "text/plain; charset=utf-8"

func (s *Server) getCheckpoint(c echo.Context, g gate) error {
	if _, err := g.check(s, c); err != nil {
		return err
	}
	b, err := s.svc.Checkpoint()
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, textPlain, b)
}

func (s *Server) getCheckpointKey(c echo.Context, g gate) error {
	if _, err := g.check(s, c); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, textPlain, []byte(s.svc.VerifierKey()+"\n"))
}

type inclusionJSON struct {
	Seq      uint64   `json:"seq"`
	TreeSize uint64   `json:"tree_size"`
	LeafHash string   `json:"leaf_hash"`
	Proof    []string `json:"proof"`
}

type consistencyJSON struct {
	OldSize uint64   `json:"old_size"`
	NewSize uint64   `json:"new_size"`
	Proof   []string `json:"proof"`
}

func (s *Server) getInclusion(c echo.Context, g gate) error {
	v, err := queryParam(c, "seq")
	if err != nil {
		return err
	}
	seq, err := parseUint("seq", v)
	if err != nil {
		return err
	}
	size, given, err := queryUint(c, "tree_size") // absent: the current tree size
	if err != nil {
		return err
	}
	if seq == 0 {
		return invalidField("seq", "seq must be at least 1: entries are numbered from 1.")
	}
	if given && size < seq {
		return invalidField("tree_size", "tree_size must be at least seq (%d): a tree of %d entries does not hold entry %d.", seq, size, seq)
	}
	p, err := g.check(s, c)
	if err != nil {
		return err
	}
	if _, err := s.visibleEntry(p, seq); err != nil {
		return err
	}
	if !given {
		size = s.svc.TreeSize()
	}
	if size > s.svc.TreeSize() {
		return invalidField("tree_size", "tree_size is larger than the ledger (%d entries).", s.svc.TreeSize())
	}
	leaf, proof, err := s.svc.InclusionProof(seq, size)
	if err != nil {
		return err
	}
	out := inclusionJSON{Seq: seq, TreeSize: size, LeafHash: base64.StdEncoding.EncodeToString(leaf[:]),
		Proof: make([]string, len(proof))}
	for i, h := range proof {
		out.Proof[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) getConsistency(c echo.Context, g gate) error {
	v, err := queryParam(c, "old_size")
	if err != nil {
		return err
	}
	oldSize, err := parseUint("old_size", v)
	if err != nil {
		return err
	}
	newSize, given, err := queryUint(c, "new_size") // absent: the current tree size
	if err != nil {
		return err
	}
	if oldSize == 0 || (given && newSize < oldSize) {
		return invalidField("old_size", "old_size must be 1 to new_size.")
	}
	if _, err := g.check(s, c); err != nil {
		return err
	}
	size := s.svc.TreeSize()
	if !given {
		if oldSize > size { // new_size defaults to the ledger's size: old_size is what is too large
			return invalidField("old_size", "old_size is larger than the ledger (%d entries).", size)
		}
		newSize = size
	}
	if newSize > size {
		return invalidField("new_size", "new_size must be old_size to the ledger's size (%d entries).", size)
	}
	proof, err := s.svc.ConsistencyProof(oldSize, newSize)
	if err != nil {
		return err
	}
	out := consistencyJSON{OldSize: oldSize, NewSize: newSize, Proof: make([]string, len(proof))}
	for i, h := range proof {
		out.Proof[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) getPolicy(c echo.Context, g gate) error {
	if _, err := g.check(s, c); err != nil {
		return err
	}
	b, err := json.Marshal(s.svc.Policy())
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, b)
}
