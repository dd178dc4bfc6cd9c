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
// balances with the server's. The export of a server that keeps writing runs past the
// checkpoint and is cut at its size, so the replayed state is that of a signed tree size.
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
	if err := c.compareAccounts(st, cp.Size); err != nil {
		return nil, err
	}
	sum.Compared = append(sum.Compared, fmt.Sprintf("%d accounts' balances and earned with the server's at tree size %d", sum.Accounts, cp.Size))
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

func (c *client) compareAccounts(st *ledger.MemState, entries uint64) error {
	assets := st.Policy().Assets
	for _, a := range st.Accounts() {
		raw, err := c.small("/v1/accounts/" + url.PathEscape(string(a.ID)))
		if err != nil {
			return err
		}
		var got servedAccount
		if err := json.Unmarshal(raw, &got); err != nil {
			return fmt.Errorf("account %s: %w", a.ID, err)
		}
		for _, code := range assets.Codes() {
			scale := assets[code].Scale
			want := a.Balances[code]
			g := got.Balances[code]
			if g.Balance != ledger.FormatAmount(want.Balance, scale) || g.Earned != ledger.FormatAmount(want.Earned, scale) {
				if moved, _ := c.moved(entries); moved {
					return fmt.Errorf("account %s %s: the server shows balance %s earned %s, the replay %s and %s; the server wrote entries meanwhile, run verify again",
						a.ID, code, g.Balance, g.Earned, ledger.FormatAmount(want.Balance, scale), ledger.FormatAmount(want.Earned, scale))
				}
				return fmt.Errorf("account %s %s: the server shows balance %s earned %s, but replaying the log gives %s and %s",
					a.ID, code, g.Balance, g.Earned, ledger.FormatAmount(want.Balance, scale), ledger.FormatAmount(want.Earned, scale))
			}
		}
	}
	return nil
}

// moved reports whether the server's log has grown past entries.
func (c *client) moved(entries uint64) (bool, error) {
	raw, err := c.small("/v1/checkpoint")
	if err != nil {
		return false, err
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	if len(lines) < 2 {
		return false, nil
	}
	var n uint64
	fmt.Sscan(lines[1], &n)
	return n > entries, nil
}
