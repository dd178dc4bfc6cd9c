package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/timebank/timebank/ledger"
)

// maxSmallBody bounds the checkpoint, key and account answers read from a server.
const maxSmallBody = 1 << 20

type client struct {
	base  string
	token string
	http  *http.Client
}

func (c *client) get(path string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

func (c *client) small(path string) ([]byte, error) {
	resp, err := c.get(path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, maxSmallBody))
}

// URL verifies a running server through its API: it fetches the signed checkpoint and the
// verifier key (which must equal pinnedKey when one is given), streams the export to a
// temporary file, replays the checkpoint's entries, then compares every replayed account's
// balances with the server's at that tree size (compareAccounts). A server that keeps
// writing is fine: the export runs past the checkpoint and is cut at its size, and an
// account written since is compared through its statement.
func URL(base, token, pinnedKey string, progress func(uint64)) (*Summary, error) {
	c := &client{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 0}}
	served, err := c.small("/v1/checkpoint/key")
	if err != nil {
		return nil, err
	}
	vkey := strings.TrimSpace(string(served))
	if pinnedKey != "" && pinnedKey != vkey {
		return nil, fmt.Errorf("the server's verifier key %q is not the pinned key %q", vkey, pinnedKey)
	}
	ckpt, err := c.small("/v1/checkpoint")
	if err != nil {
		return nil, err
	}
	cp, err := OpenCheckpoint(ckpt, vkey)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "timebank-export-*.ndjson")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	resp, err := c.get("/v1/export")
	if err != nil {
		return nil, err
	}
	// Read to the end rather than hang up at the checkpoint's size: a cut stream would be
	// logged by the server as a failed export.
	_, err = io.Copy(&firstLines{w: f, left: cp.Size}, resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("downloading the export: %w", err)
	}
	sum, st, err := Export(f.Name(), ckpt, vkey, progress)
	if err != nil {
		return nil, err
	}
	sum.Source = "server " + c.base
	moved, err := c.compareAccounts(st, cp.Size)
	if err != nil {
		return nil, err
	}
	sum.Compared = append(sum.Compared, fmt.Sprintf("%d accounts' balances and earned with the server's at tree size %d", sum.Accounts-moved, cp.Size))
	if moved > 0 {
		sum.Compared = append(sum.Compared, fmt.Sprintf("%d accounts written since: their balances at tree size %d through their next statement line (earned is served only as of now)", moved, cp.Size))
	}
	return sum, nil
}

// firstLines passes the first left lines written to it on to w and drops the rest: a busy
// server's export runs past the checkpoint fetched before it, and the replay stops there.
type firstLines struct {
	w    io.Writer
	left uint64
}

func (l *firstLines) Write(p []byte) (int, error) {
	keep := len(p)
	if l.left == 0 {
		keep = 0
	} else if n := uint64(bytes.Count(p, []byte{'\n'})); n < l.left {
		l.left -= n
	} else {
		keep = 0
		for ; l.left > 0; l.left-- {
			keep += bytes.IndexByte(p[keep:], '\n') + 1
		}
	}
	if _, err := l.w.Write(p[:keep]); err != nil {
		return 0, err
	}
	return len(p), nil
}

type servedAccount struct {
	Balances map[string]struct {
		Balance string `json:"balance"`
		Earned  string `json:"earned"`
	} `json:"balances"`
	Status string `json:"status"`
}

// compareAccounts compares every account of st, the replay of the first n entries, with the
// server's at tree size n, and returns how many it compared through their statements.
//
// An account's answer is as of its read, after n on a busy server. When it agrees with the
// replay, nothing more is read (a quiet server costs one request an account). When it does
// not, the account's first statement line after n tells what the server holds at n: the
// balances after that entry, less the entry's postings. No such line means the account has
// not moved since n, so its answer was as of n: the difference is the server's. Statement
// lines carry no earned: for an account written since n, only its balances are compared.
func (c *client) compareAccounts(st *ledger.MemState, n uint64) (int, error) {
	assets := st.Policy().Assets
	moved := 0
	for _, a := range st.Accounts() {
		raw, err := c.small("/v1/accounts/" + url.PathEscape(string(a.ID)))
		if err != nil {
			return moved, err
		}
		var got servedAccount
		if err := json.Unmarshal(raw, &got); err != nil {
			return moved, fmt.Errorf("account %s: %w", a.ID, err)
		}
		code := ""
		for _, k := range assets.Codes() {
			scale, want, g := assets[k].Scale, a.Balances[k], got.Balances[k]
			if g.Balance != ledger.FormatAmount(want.Balance, scale) || g.Earned != ledger.FormatAmount(want.Earned, scale) {
				code = k
				break
			}
		}
		if code == "" {
			continue
		}
		line, err := c.lineAfter(a.ID, n)
		if err != nil {
			return moved, err
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
	raw, err := c.small(fmt.Sprintf("/v1/accounts/%s/entries?after_seq=%d&limit=1", url.PathEscape(string(id)), n))
	if err != nil {
		return nil, err
	}
	var page struct {
		Entries []statementLine `json:"entries"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		return nil, fmt.Errorf("account %s's statement: %w", id, err)
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
