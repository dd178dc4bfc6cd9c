package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/timebank/timebank/internal/idle"
	"github.com/timebank/timebank/ledger"
)

// tokenCmd creates, lists and revokes API tokens on a running server (admin).
type tokenCmd struct {
	Create tokenCreateCmd `cmd:"" help:"Create a token; its secret is printed once."`
	List   tokenListCmd   `cmd:"" help:"List tokens (without secrets)."`
	Revoke tokenRevokeCmd `cmd:"" help:"Revoke a token at once."`
}

// clientFlags are the flags of every command that talks to a running server.
type clientFlags struct {
	URL   string `default:"http://127.0.0.1:8080" help:"Base URL of the server."`
	Token string `required:"" help:"Bearer token (admin for tokens and backups)."`
}

// apiClient is a small client of the HTTP API for the command line.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// Validate refuses a --url that is not a server's base URL; kong calls it after parsing and
// names the command in front of its message.
func (f clientFlags) Validate() error {
	return checkURL("", f.URL)
}

func (f clientFlags) client(timeout time.Duration) *apiClient {
	return &apiClient{base: strings.TrimRight(f.URL, "/"), token: f.Token, http: &http.Client{Timeout: timeout, CheckRedirect: idle.SameServer}}
}

// do sends a request and returns the response when its status is want; otherwise it returns
// the server's error message as an error. A 429 (a server run with --rate-limit, past its
// burst) is sent again once its Retry-After has passed, while the waits fit in
// rateLimitWait, as the streaming commands do: the limiter refused it unread, so a create is
// not made twice.
func (a *apiClient) do(method, path string, body any, want int) (*http.Response, error) {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	giveUp := time.Now().Add(rateLimitWait)
	for {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, a.base+path, rd)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+a.token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := a.http.Do(req)
		if err != nil {
			return nil, err
		}
		if res.StatusCode == http.StatusTooManyRequests {
			if wait := idle.RetryWait(res.Header); !time.Now().Add(wait).After(giveUp) {
				io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
				res.Body.Close()
				time.Sleep(wait)
				continue
			}
		}
		if res.StatusCode != want {
			defer res.Body.Close()
			return nil, serverError(res)
		}
		return res, nil
	}
}

// rateLimitWait is how long do waits out a server's rate limit in all.
const rateLimitWait = time.Minute

// streamWait bounds export --url and backup on a server that stops sending: the wait for
// an answer's headers, and for each next byte of its body (internal/idle). A large ledger's
// stream takes as long as it needs while bytes flow. A backup's headers come only once the
// server has copied the whole database to a spool file (api/stream.go, docs/OPERATIONS.md),
// which takes minutes for a large ledger: backup waits backupHeader for them. Both ask again
// after a 429's Retry-After while the waits fit in header.
var streamWait = struct{ header, backupHeader, idle time.Duration }{time.Minute, time.Hour, time.Minute}

// stream sends GET path under ctx and returns the answer when it is 200 OK of Content-Type
// mediaType, waiting at most header for its headers and streamWait.idle for each next byte;
// otherwise the server's error message as an error. A 429 (a server run with --rate-limit)
// is asked again after its Retry-After while the waits fit in streamWait.header, as verify
// --url does (idle.DoRetry). A 200 of another type is no timebank server's answer (a
// proxy's sign-in page, say): it is refused, not saved as the export or the backup.
func (a *apiClient) stream(ctx context.Context, path string, header time.Duration, mediaType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	res, err := idle.DoRetry(idle.Client(header), req, streamWait.idle, streamWait.header)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		return nil, serverError(res)
	}
	if got, _, err := mime.ParseMediaType(res.Header.Get("Content-Type")); err != nil || got != mediaType {
		res.Body.Close()
		return nil, fmt.Errorf("GET %s: the server answered 200 with Content-Type %.100q, not %s: not a timebank server's answer (a proxy's page?); nothing was saved",
			req.URL.Path, res.Header.Get("Content-Type"), mediaType)
	}
	return res, nil
}

// serverError turns an error answer into an error naming its code and message.
func serverError(res *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if code, msg, ok := errorBody(b); ok {
		return fmt.Errorf("server answered %d %s: %s", res.StatusCode, code, msg)
	}
	return fmt.Errorf("server answered %s", res.Status)
}

// errorBody reads the code and message of an error answer (SPEC §7); ok is false when b is
// not one.
func errorBody(b []byte) (code, message string, ok bool) {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
		return "", "", false
	}
	return e.Error.Code, e.Error.Message, true
}

// The answers of the token commands are read whole, at most these many bytes: a token is
// under 1 KiB of JSON (its label at most 100 characters), so that a list of 64 MiB holds
// tens of thousands. A server sending more is not read into memory for as long as it sends.
const (
	maxTokenBytes     = 64 << 10
	maxTokenListBytes = 64 << 20
)

// readAnswer reads the whole of r, at most limit bytes; what names it in the error.
func readAnswer(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the server's answer with %s is larger than %d KiB: not what a timebank server sends", what, limit>>10)
	}
	return b, nil
}

// tokenCreateCmd is `timebank token create`.
type tokenCreateCmd struct {
	clientFlags `embed:""`
	Role        string `required:"" enum:"admin,station,outlet,resident,auditor" help:"Role of the new token: admin, station, outlet, resident or auditor."`
	Account     string `help:"Account the token acts as (station, outlet and resident tokens), e.g. station:s01."`
	Label       string `help:"A note for whoever lists tokens later."`
}

// Run creates the token and prints the server's answer (with the secret) as JSON.
func (c *tokenCreateCmd) Run(inv *invocation) error {
	body := map[string]string{"role": c.Role}
	if c.Account != "" {
		body["account"] = c.Account
	}
	if c.Label != "" {
		body["label"] = c.Label
	}
	res, err := c.client(30*time.Second).do(http.MethodPost, "/v1/tokens", body, http.StatusCreated)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var out bytes.Buffer
	b, err := readAnswer(res.Body, maxTokenBytes, "the new token")
	if err != nil {
		return err
	}
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = out.WriteTo(inv.stdout)
	return err
}

// tokenListCmd is `timebank token list`.
type tokenListCmd struct {
	clientFlags `embed:""`
	JSON        bool `help:"Print the server's JSON instead of a table."`
}

// Run prints the tokens as a table (or JSON).
func (c *tokenListCmd) Run(inv *invocation) error {
	res, err := c.client(30*time.Second).do(http.MethodGet, "/v1/tokens", nil, http.StatusOK)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := readAnswer(res.Body, maxTokenListBytes, "the token list")
	if err != nil {
		return err
	}
	if c.JSON {
		if !json.Valid(b) {
			return errors.New("the server's answer with the token list is not JSON: not what a timebank server sends")
		}
		_, err := inv.stdout.Write(b)
		return err
	}
	// The names of GET /v1/tokens (api/tokens.go): created_at needs its tag, the others
	// match their field names whatever the case.
	var list struct {
		Tokens []struct {
			ID        string  `json:"id"`
			Role      string  `json:"role"`
			Account   *string `json:"account"`
			Label     string  `json:"label"`
			CreatedAt string  `json:"created_at"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	w := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tROLE\tACCOUNT\tCREATED\tLABEL")
	for _, t := range list.Tokens {
		acct := "-"
		if t.Account != nil {
			acct = *t.Account
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, acct, t.CreatedAt, t.Label)
	}
	return w.Flush()
}

// tokenRevokeCmd is `timebank token revoke ID`.
type tokenRevokeCmd struct {
	clientFlags `embed:""`
	ID          string `arg:"" help:"Id of the token to revoke, tok_… (see token list); not its secret."`
}

// Run revokes the token. It refuses, without sending anything, an argument that is not a
// token id: the id goes into the URL path, which the server logs, so a secret given by
// mistake (token create prints both) would be written to the log, answered 404 and left
// valid.
func (c *tokenRevokeCmd) Run(inv *invocation) error {
	switch {
	case strings.HasPrefix(c.ID, ledger.TokenSecretPrefix):
		return usagef("token revoke: that is the token's secret; revoke takes its id %s…, see token list", ledger.TokenIDPrefix)
	case !strings.HasPrefix(c.ID, ledger.TokenIDPrefix):
		// Not echoed: a bootstrap admin secret can have any shape.
		return usagef("token revoke: that is not a token id; ids look like %s and 16 hex digits, see token list", ledger.TokenIDPrefix)
	}
	res, err := c.client(30*time.Second).do(http.MethodDelete, "/v1/tokens/"+url.PathEscape(c.ID), nil, http.StatusNoContent)
	if err != nil {
		return err
	}
	res.Body.Close()
	fmt.Fprintf(inv.stdout, "revoked %s\n", c.ID)
	return nil
}
