package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/timebank/timebank/ledger"
)

// Tokens are credentials, not entries: no Idempotency-Key (one sent is ignored).

// tokenRequest is the body of POST /v1/tokens.
type tokenRequest struct {
	Role    ledger.Role      `json:"role"`
	Account ledger.AccountID `json:"account"`
	Label   string           `json:"label"`
}

// tokenJSON is a token as the API shows it; Token (the secret) only when it is created.
type tokenJSON struct {
	ID        string            `json:"id"`
	Token     string            `json:"token,omitempty"`
	Role      ledger.Role       `json:"role"`
	Account   *ledger.AccountID `json:"account"`
	Label     string            `json:"label"`
	CreatedAt string            `json:"created_at"`
}

func tokenView(t ledger.Token, secret string) tokenJSON {
	out := tokenJSON{ID: t.ID, Token: secret, Role: t.Role, Label: t.Label, CreatedAt: ledger.FormatTime(t.CreatedAt)}
	if t.Account != "" {
		a := t.Account
		out.Account = &a
	}
	return out
}

// maxLabelChars bounds a token's label (the store's limit).
const maxLabelChars = 100

// shapeToken checks a token request: a role, a well-formed account for station, outlet and
// resident tokens (that it exists and has the role's kind is checked after authentication:
// 422 unknown_account), none for admin and auditor tokens.
func shapeToken(r *tokenRequest) error {
	switch r.Role {
	case ledger.RoleAdmin, ledger.RoleAuditor:
		if r.Account != "" {
			return invalidField("account", "An %s token is bound to no account; leave out account.", r.Role)
		}
	case ledger.RoleStation, ledger.RoleOutlet, ledger.RoleResident:
		if r.Account == "" {
			return invalidField("account", "A %s token must name its %s account.", r.Role, r.Role)
		}
		if _, err := ledger.ParseAccountID(string(r.Account), false); err != nil {
			return err
		}
	default:
		return invalidField("role", "role must be admin, station, outlet, resident or auditor.")
	}
	return ledger.CheckText("label", r.Label, maxLabelChars, false)
}

func (s *Server) postToken(c echo.Context, g gate) error {
	if err := checkMediaType(c); err != nil {
		return err
	}
	raw, err := readBody(c)
	if err != nil {
		return err
	}
	var r tokenRequest
	if err := decodeStrict(raw, &r, plainBody); err != nil {
		return err
	}
	if err := shapeToken(&r); err != nil {
		return err
	}
	by, err := g.check(s, c)
	if err != nil {
		return err
	}
	if r.Account != "" {
		a, err := s.svc.Account(r.Account)
		if err != nil {
			return err
		}
		if a == nil || string(a.Kind) != string(r.Role) {
			return ledger.Errorf(ledger.CodeUnknownAccount, "A %s token needs an existing %s: account; %s is not one.",
				r.Role, r.Role, r.Account).With("account", string(r.Account))
		}
	}
	t, secret, err := s.svc.CreateTokenAs(by, r.Role, r.Account, r.Label)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store") // the secret, shown this once
	return c.JSON(http.StatusCreated, tokenView(t, secret))
}

type tokenListJSON struct {
	Tokens []tokenJSON `json:"tokens"`
}

func (s *Server) listTokens(c echo.Context, g gate) error {
	if _, err := g.check(s, c); err != nil {
		return err
	}
	ts, err := s.svc.ListTokens()
	if err != nil {
		return err
	}
	out := tokenListJSON{Tokens: make([]tokenJSON, len(ts))}
	for i, t := range ts {
		out.Tokens[i] = tokenView(t, "")
	}
	return c.JSON(http.StatusOK, out)
}

// maxTokenIDLength bounds a token id in a path.
const maxTokenIDLength = 64

func (s *Server) deleteToken(c echo.Context, g gate) error {
	id := pathParam(c, "id") // decoded: an escaped secret is a secret too
	if len(id) == 0 || len(id) > maxTokenIDLength {
		return invalidField("id", "The token id is not valid.")
	}
	if strings.HasPrefix(id, ledger.TokenSecretPrefix) {
		return invalidField("id", "This is a token's secret, not its id: revoke by id (%s…, see GET /v1/tokens), "+
			"and revoke this token, since its secret has now been sent in a URL.", ledger.TokenIDPrefix)
	}
	by, err := g.check(s, c)
	if err != nil {
		return err
	}
	if err := s.svc.RevokeTokenAs(by, id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
