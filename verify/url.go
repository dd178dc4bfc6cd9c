package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/timebank/timebank/internal/idle"
	"github.com/timebank/timebank/ledger"
)

// maxAnswerBytes bounds an account's answer or a statement page read from a server
// (checkpoint and key: MaxNoteBytes).
const maxAnswerBytes = 1 << 20

// netLimits bound what verify --url waits for and reads, so that a server that stalls,
// drips or streams without end cannot hold verify forever or fill the disk. Each is a
// *SourceError (exit 3) when reached, but tail, which ends the download early.
type netLimits struct {
	header time.Duration // for an answer's status line and headers
	idle   time.Duration // for the next byte of an answer's body: an export that keeps flowing may take as long as it needs
	small  time.Duration // for the whole of a small answer: key, checkpoint, account, statement page
	tail   int64         // bytes of the export read past the checkpoint's entries before hanging up
}

var defaultLimits = netLimits{header: time.Minute, idle: time.Minute, small: time.Minute, tail: 64 << 20}

type client struct {
	base  string
	name  string // base with its password, if any, redacted: for messages
	token string
	http  *http.Client
	lim   netLimits
}

func newClient(base, token string, lim netLimits) *client {
	base = strings.TrimRight(base, "/")
	return &client{base: base, name: idle.Redacted(base), token: token, http: idle.Client(lim.header), lim: lim}
}

// statusError is a server's answer other than 200 OK.
type statusError struct {
	path string
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// get sends GET path under ctx. Its body fails once no byte has come for lim.idle; closing
// it releases the request. An error status is a *SourceError holding a *statusError, and
// so is a failure to connect or a timeout. A 429 (a server run with --rate-limit, past its
// burst) is asked again after the wait its Retry-After tells, while the waits fit in
// lim.header (idle.DoRetry): a rate limit slows verify down, it does not make the server
// unreadable.
func (c *client) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, &SourceError{err}
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := idle.DoRetry(c.http, req, c.lim.idle, c.lim.header)
	if err != nil {
		return nil, &SourceError{err}
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return nil, &SourceError{&statusError{path: path, code: resp.StatusCode,
		msg: fmt.Sprintf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(msg)))}}
}

// small reads the whole answer to GET path, at most limit bytes and within lim.small.
func (c *client) small(path string, limit int64) ([]byte, error) {
	slow := fmt.Errorf("GET %s: no whole answer within %s", path, c.lim.small)
	ctx, cancel := context.WithTimeoutCause(context.Background(), c.lim.small, slow)
	defer cancel()
	resp, err := c.get(ctx, path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &SourceError{idle.Cause(ctx, fmt.Errorf("GET %s: %w", path, err))}
	}
	if int64(len(b)) > limit {
		return nil, sourceErrorf("GET %s: the answer is larger than %d KiB", path, limit>>10)
	}
	return b, nil
}

// URL verifies a running server through its API: it fetches the signed checkpoint and the
// verifier key (which must equal pinnedKey when one is given), streams the export to a
// temporary file, replays the checkpoint's entries, then compares every replayed account's
// balances and every replayed hold with the server's at that tree size (compareAccounts,
// compareHolds). A server that keeps writing is fine: the export runs past the checkpoint
// and is cut at its size, an account written since is compared through its statement, and
// a hold closed since by what it is now. A server that cannot be read
// (unreachable, an error status, a stall: netLimits, an answer too large or malformed) is
// a *SourceError.
func URL(base, token, pinnedKey string, progress func(uint64)) (*Summary, error) {
	return verifyURL(newClient(base, token, defaultLimits), pinnedKey, progress)
}

func verifyURL(c *client, pinnedKey string, progress func(uint64)) (*Summary, error) {
	// A key that is not one, pinned or served, is a source that is not one; only a
	// well-formed served key other than the pinned one is a difference.
	if pinnedKey != "" {
		if _, err := note.NewVerifier(pinnedKey); err != nil {
			return nil, sourceErrorf("the pinned verifier key: %w", err)
		}
	}
	served, err := c.small("/v1/checkpoint/key", MaxNoteBytes)
	if err != nil {
		return nil, err
	}
	vkey := strings.TrimSpace(string(served))
	if _, err := note.NewVerifier(vkey); err != nil {
		return nil, sourceErrorf("GET /v1/checkpoint/key: the server's verifier key %.100q: %w", vkey, err)
	}
	if pinnedKey != "" && pinnedKey != vkey {
		return nil, fmt.Errorf("the server's verifier key %q is not the pinned key %q", vkey, pinnedKey)
	}
	ckpt, err := c.small("/v1/checkpoint", MaxNoteBytes)
	if err != nil {
		return nil, err
	}
	cp, err := OpenCheckpoint(ckpt, vkey)
	if err != nil {
		return nil, err
	}
	if cp.Size == 0 {
		return nil, errors.New("the server's checkpoint covers no entries, not even genesis, which every ledger holds from its first start")
	}
	r, err := c.replayExport(cp, progress)
	if err != nil {
		return nil, err
	}
	sum, st := r.sum, r.st
	sum.Source = "server " + c.name
	if pinnedKey == "" {
		sum.ServedKey = vkey
	}
	moved, err := c.compareAccounts(st, cp.Size)
	if err != nil {
		return nil, err
	}
	sum.Compared = append(sum.Compared, fmt.Sprintf("%d accounts' balances, earned, status and opening time with the server's at tree size %d", sum.Accounts-moved, cp.Size))
	if moved > 0 {
		sum.Compared = append(sum.Compared, fmt.Sprintf("%d accounts written since: their balances at tree size %d through their next statement line (earned is served only as of now)", moved, cp.Size))
	}
	closed, err := c.compareHolds(st, cp.Size, r.rp.LastTime)
	if err != nil {
		return nil, err
	}
	sum.Compared = append(sum.Compared, fmt.Sprintf("%d holds' resident, payee, asset, amount, expiry and status with the server's at tree size %d", sum.Holds-closed, cp.Size))
	if closed > 0 {
		sum.Compared = append(sum.Compared, fmt.Sprintf("%d holds open at tree size %d and settled, voided or expired since: their terms, and for the settled or voided an entry of their resident since", closed, cp.Size))
	}
	return sum, nil
}

// replayExport downloads the export's first cp.Size entries to a temporary file and
// replays them. The file is unlinked as soon as it is made: its space returns to the
// system when verify ends, however it ends.
func (c *client) replayExport(cp *Checkpoint, progress func(uint64)) (*replay, error) {
	f, err := os.CreateTemp("", "timebank-export-*.ndjson")
	if err != nil {
		return nil, err
	}
	unlinked := os.Remove(f.Name()) == nil // not where an open file cannot be removed
	defer func() {
		f.Close()
		if !unlinked {
			os.Remove(f.Name())
		}
	}()
	resp, err := c.get(context.Background(), "/v1/export")
	if err != nil {
		return nil, err
	}
	// Read to the end rather than hang up at the checkpoint's size: a cut stream would be
	// logged by the server as a failed export. But not without end: see netLimits.tail.
	lines := &firstLines{w: f, left: cp.Size, tail: c.lim.tail, tailTime: c.lim.small}
	_, err = io.Copy(lines, resp.Body)
	resp.Body.Close()
	// Once the checkpoint's entries are in, what comes after is read only out of courtesy:
	// a stall or a break there costs nothing.
	if err != nil && lines.left > 0 {
		return nil, &SourceError{fmt.Errorf("downloading the export: %w", err)}
	}
	// An answer whose end is the connection's close ends without an error wherever it is
	// cut; one that ends inside a line was cut on its way, as one that broke is.
	if lines.left > 0 && lines.line > 0 {
		return nil, sourceErrorf("downloading the export: the export ended inside line %d, after %d whole lines: it was cut short", lines.n+1, lines.n)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return exportFile(f, "server "+c.name, cp, progress)
}

// firstLines passes the first left lines written to it on to w and drops the rest: a busy
// server's export runs past the checkpoint fetched before it, and the replay stops there.
// A line the replay would refuse as too long (MaxLineBytes) is refused as it arrives, and
// once tail bytes have come after the first left lines, or bytes still come tailTime after
// them (a drip), it stops with errTailRead.
type firstLines struct {
	w        io.Writer
	left     uint64 // lines still to pass on
	n        uint64 // lines passed on
	line     int    // bytes of the current line so far, without its newline
	tail     int64
	tailTime time.Duration // zero: no limit
	tailEnd  time.Time     // when the tail may last until, once the first left lines are in
}

// errTailRead ends the download once enough of the export past the checkpoint was read.
var errTailRead = errors.New("verify: read enough of the export past the checkpoint")

func (l *firstLines) Write(p []byte) (int, error) {
	keep := 0
	for l.left > 0 && keep < len(p) {
		i := bytes.IndexByte(p[keep:], '\n')
		if i < 0 {
			i = len(p) - keep
		} else {
			l.left--
			l.n++
		}
		if l.line += i; l.line >= MaxLineBytes {
			return 0, sourceErrorf("the export's line %d is longer than %d bytes", l.n+1, MaxLineBytes)
		}
		keep += i
		if keep < len(p) {
			keep++ // the newline
			l.line = 0
		}
	}
	if _, err := l.w.Write(p[:keep]); err != nil {
		return 0, err
	}
	if l.tail -= int64(len(p) - keep); l.tail < 0 {
		return len(p), errTailRead
	}
	if l.left == 0 && l.tailTime > 0 {
		if l.tailEnd.IsZero() {
			l.tailEnd = time.Now().Add(l.tailTime)
		} else if time.Now().After(l.tailEnd) {
			return len(p), errTailRead
		}
	}
	return len(p), nil
}

type servedAccount struct {
	Balances map[string]struct {
		Balance string `json:"balance"`
		Earned  string `json:"earned"`
	} `json:"balances"`
	Status   string `json:"status"`
	OpenedAt string `json:"opened_at"`
}

// accountStatus is a's status as GET /v1/accounts/{id} shows it.
func accountStatus(a *ledger.Account) string {
	if a.Frozen {
		return "frozen"
	}
	return "active"
}

// compareAccounts compares every account of st, the replay of the first n entries, with the
// server's at tree size n (balances, earned, status, and opened_at, which never changes),
// and returns how many it compared through their statements.
//
// An account's answer is as of its read, after n on a busy server. When it agrees with the
// replay, nothing more is read (a quiet server costs one request an account). When it does
// not, the account's first statement line after n tells what the server holds at n: the
// balances after that entry, less the entry's postings. No such line means the account has
// not moved since n, so its answer was as of n: the difference is the server's. Statement
// lines carry no earned nor status: for an account written since n, only its balances are
// compared.
func (c *client) compareAccounts(st *ledger.MemState, n uint64) (int, error) {
	assets := st.Policy().Assets
	moved := 0
	for _, a := range st.Accounts() {
		raw, err := c.small("/v1/accounts/"+url.PathEscape(string(a.ID)), maxAnswerBytes)
		var status *statusError
		if errors.As(err, &status) && status.code == http.StatusNotFound {
			return moved, fmt.Errorf("account %s was opened by the log, but the server does not know it: %w", a.ID, status)
		}
		if err != nil {
			return moved, err
		}
		var got servedAccount
		if err := json.Unmarshal(raw, &got); err != nil {
			return moved, sourceErrorf("account %s: the server's answer: %w", a.ID, err)
		}
		if opened := ledger.FormatTime(a.OpenedAt); got.OpenedAt != opened { // never changes
			return moved, fmt.Errorf("account %s: the server shows it opened at %q, but the log opened it at %q", a.ID, got.OpenedAt, opened)
		}
		code := ""
		for _, k := range assets.Codes() {
			scale, want, g := assets[k].Scale, a.Balances[k], got.Balances[k]
			if g.Balance != ledger.FormatAmount(want.Balance, scale) || g.Earned != ledger.FormatAmount(want.Earned, scale) {
				code = k
				break
			}
		}
		state := accountStatus(a)
		if code == "" && got.Status == state {
			continue
		}
		line, err := c.lineAfter(a.ID, n)
		if err != nil {
			return moved, err
		}
		if line == nil && code == "" {
			return moved, fmt.Errorf("account %s: the server shows status %q, but replaying the log gives %q", a.ID, got.Status, state)
		}
		if line == nil {
			scale, want, g := assets[code].Scale, a.Balances[code], got.Balances[code]
			return moved, fmt.Errorf("account %s %s: the server shows balance %s earned %s, but replaying the log gives %s and %s",
				a.ID, code, g.Balance, g.Earned, ledger.FormatAmount(want.Balance, scale), ledger.FormatAmount(want.Earned, scale))
		}
		if err := line.check(a, n, assets); err != nil {
			return moved, err
		}
		moved++
	}
	return moved, nil
}

// statementLine is a line of GET /v1/accounts/{id}/entries.
type statementLine struct {
	Seq      uint64 `json:"seq"`
	Postings []struct {
		From   ledger.AccountID `json:"from"`
		To     ledger.AccountID `json:"to"`
		Asset  string           `json:"asset"`
		Amount string           `json:"amount"`
	} `json:"postings"`
	BalancesAfter map[string]string `json:"balances_after"`
}

// lineAfter returns account id's first statement line after seq n, or nil when it has none.
func (c *client) lineAfter(id ledger.AccountID, n uint64) (*statementLine, error) {
	raw, err := c.small(fmt.Sprintf("/v1/accounts/%s/entries?after_seq=%d&limit=1", url.PathEscape(string(id)), n), maxAnswerBytes)
	if err != nil {
		return nil, err
	}
	var page struct {
		Entries []statementLine `json:"entries"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return nil, sourceErrorf("account %s's statement: the server's answer: %w", id, err)
	}
	if len(page.Entries) == 0 {
		return nil, nil
	}
	if l := &page.Entries[0]; l.Seq > n {
		return l, nil
	}
	return nil, fmt.Errorf("account %s's statement after entry %d begins with entry %d", id, n, page.Entries[0].Seq)
}

// check compares the balances after line l, the first of account a's after tree size n,
// with a's replayed balances at n plus the line's postings to and from a.
func (l *statementLine) check(a *ledger.Account, n uint64, assets ledger.Assets) error {
	want := map[string]int64{}
	for code, b := range a.Balances {
		want[code] = b.Balance
	}
	for _, p := range l.Postings {
		if p.From != a.ID && p.To != a.ID {
			continue
		}
		spec, ok := assets[p.Asset]
		if !ok {
			return fmt.Errorf("account %s's statement line of entry %d posts %q, not an asset of the ledger", a.ID, l.Seq, p.Asset)
		}
		v, err := ledger.ParseAmount(p.Amount, spec.Scale)
		if err != nil {
			return fmt.Errorf("account %s's statement line of entry %d: %w", a.ID, l.Seq, err)
		}
		if p.To == a.ID {
			want[p.Asset] += v
		}
		if p.From == a.ID {
			want[p.Asset] -= v
		}
	}
	for _, code := range assets.Codes() {
		if w := ledger.FormatAmount(want[code], assets[code].Scale); l.BalancesAfter[code] != w {
			return fmt.Errorf("account %s %s: the server's statement shows balance %s after entry %d, its first since tree size %d, but replaying the log to %d and adding that entry's postings gives %s",
				a.ID, code, l.BalancesAfter[code], l.Seq, n, n, w)
		}
	}
	return nil
}

// servedHold is the answer to GET /v1/holds/{id}.
type servedHold struct {
	HoldID    uint64            `json:"hold_id"`
	Resident  ledger.AccountID  `json:"resident"`
	Payee     ledger.AccountID  `json:"payee"`
	Asset     string            `json:"asset"`
	Amount    string            `json:"amount"`
	Status    ledger.HoldStatus `json:"status"`
	ExpiresAt string            `json:"expires_at"`
}

// compareHolds compares every hold of st, the replay of the first n entries (the last of
// them at time last), with the server's answer (one request a hold), and returns how many
// were open at n and are shown settled, voided or expired.
//
// A hold's terms (hold_id, resident, payee, asset, amount, expires_at) never change: one
// that differs is the server's at once. Its status is as of the server's read, after n on a
// busy server, and judged by the server's clock, which verify cannot see; no entry after n
// is earlier than last + 1 µs, nor is the server's clock for holds (it reads them at the
// next entry's time):
//   - settled or voided at n is final: the server must show the same;
//   - open at n but expired at last + 1 µs can no longer be settled (a settle needs a time
//     before expires_at) nor voided (a void, an unexpired hold): the server must show
//     expired;
//   - open at n and unexpired then, it may since have expired on the server's clock, or
//     been settled or voided by an entry after n. Shown open or expired, it is taken as
//     shown. Shown settled or voided, its resident (a party of every settle and void of its
//     holds) must have a statement line after n: none means no entry closed it.
func (c *client) compareHolds(st *ledger.MemState, n uint64, last int64) (int, error) {
	assets := st.Policy().Assets
	closed := 0
	for _, h := range st.Holds() {
		raw, err := c.small(fmt.Sprintf("/v1/holds/%d", h.ID), maxAnswerBytes)
		var status *statusError
		if errors.As(err, &status) && status.code == http.StatusNotFound {
			return closed, fmt.Errorf("hold %d was placed by entry %d of the log, but the server does not know it: %w", h.ID, h.ID, status)
		}
		if err != nil {
			return closed, err
		}
		var got servedHold
		if err := json.Unmarshal(raw, &got); err != nil {
			return closed, sourceErrorf("hold %d: the server's answer: %w", h.ID, err)
		}
		if got.HoldID != h.ID {
			return closed, fmt.Errorf("hold %d: the server shows hold_id %d", h.ID, got.HoldID)
		}
		for _, f := range []struct{ name, got, want string }{
			{"resident", string(got.Resident), string(h.Resident)},
			{"payee", string(got.Payee), string(h.Payee)},
			{"asset", got.Asset, h.Asset},
			{"amount", got.Amount, ledger.FormatAmount(h.Amount, assets[h.Asset].Scale)},
			{"expires_at", got.ExpiresAt, ledger.FormatTime(h.ExpiresAt)},
		} {
			if f.got != f.want {
				return closed, fmt.Errorf("hold %d: the server shows %s %q, but replaying the log gives %q", h.ID, f.name, f.got, f.want)
			}
		}
		want := h.StatusAt(last + 1)
		switch {
		case got.Status == want:
			continue
		case want != ledger.HoldOpen:
			return closed, fmt.Errorf("hold %d: the server shows status %q, but replaying the log gives %q", h.ID, got.Status, want)
		case got.Status == ledger.HoldExpired:
		case got.Status == ledger.HoldSettled || got.Status == ledger.HoldVoided:
			line, err := c.lineAfter(h.Resident, n)
			if err != nil {
				return closed, err
			}
			if line == nil {
				return closed, fmt.Errorf("hold %d: the server shows status %q, but it was open at tree size %d and its resident %s has no entry since: nothing settled or voided it",
					h.ID, got.Status, n, h.Resident)
			}
		default:
			return closed, fmt.Errorf("hold %d: the server shows status %q, not one of open, settled, voided or expired (replaying the log gives %q)", h.ID, got.Status, want)
		}
		closed++
	}
	return closed, nil
}
