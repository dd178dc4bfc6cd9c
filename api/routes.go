package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/timebank/timebank/ledger"
)

// gate is the set of roles a route admits; an empty gate is a public route (no token).
type gate []ledger.Role

var (
	public    = gate(nil)
	adminOnly = gate{ledger.RoleAdmin}
	auditors  = gate{ledger.RoleAdmin, ledger.RoleAuditor}
	anyone    = gate{ledger.RoleAdmin, ledger.RoleAuditor, ledger.RoleStation, ledger.RoleOutlet, ledger.RoleResident}
	residents = gate{ledger.RoleResident}
	writers   = gate{ledger.RoleAdmin, ledger.RoleStation, ledger.RoleOutlet, ledger.RoleResident}
)

// handler is a route's handler; it checks the request's shape, then calls g.check.
type handler func(c echo.Context, g gate) error

// Route is one route of the API with the roles it admits (nil: public).
type Route struct {
	Method, Path string
	Roles        []ledger.Role
	handle       handler
}

// Routes returns the API's routes: the contract of SPEC §3–§4 in one table. Tests walk it.
func (s *Server) Routes() []Route {
	return []Route{
		{http.MethodPost, "/v1/accounts", gate{ledger.RoleAdmin, ledger.RoleStation}, s.postOpen},
		{http.MethodPost, "/v1/accounts/:id/freeze", adminOnly, s.postFreeze(false)},
		{http.MethodPost, "/v1/accounts/:id/unfreeze", adminOnly, s.postFreeze(true)},
		{http.MethodPost, "/v1/links", adminOnly, s.postBody(func() ledger.Body { return &ledger.LinkBody{} })},
		{http.MethodPost, "/v1/credits", gate{ledger.RoleAdmin, ledger.RoleStation}, s.postCredit},
		{http.MethodPost, "/v1/redemptions", residents, s.postBody(func() ledger.Body { return &ledger.RedemptionBody{} })},
		{http.MethodPost, "/v1/holds", residents, s.postBody(func() ledger.Body { return &ledger.HoldBody{} })},
		// Settling and voiding are gated by the hold itself (payee; resident, payee or
		// admin): the engine answers 404 for a hold the principal cannot see, 403 after.
		{http.MethodPost, "/v1/holds/:id/settle", writers, s.postSettle},
		{http.MethodPost, "/v1/holds/:id/void", writers, s.postVoid},
		{http.MethodPost, "/v1/transfers", residents, s.postBody(func() ledger.Body { return &ledger.TransferBody{} })},
		{http.MethodPost, "/v1/donations", residents, s.postBody(func() ledger.Body { return &ledger.DonationBody{} })},
		{http.MethodPost, "/v1/grants", adminOnly, s.postBody(func() ledger.Body { return &ledger.GrantBody{} })},
		{http.MethodPost, "/v1/conversions", residents, s.postBody(func() ledger.Body { return &ledger.ConversionBody{} })},
		{http.MethodPost, "/v1/reversals", gate{ledger.RoleAdmin, ledger.RoleStation}, s.postBody(func() ledger.Body { return &ledger.ReversalBody{} })},
		{http.MethodPut, "/v1/policy", adminOnly, s.putPolicy},
		{http.MethodGet, "/v1/policy", anyone, s.getPolicy},

		{http.MethodPost, "/v1/tokens", adminOnly, s.postToken},
		{http.MethodGet, "/v1/tokens", adminOnly, s.listTokens},
		{http.MethodDelete, "/v1/tokens/:id", adminOnly, s.deleteToken},

		{http.MethodGet, "/v1/accounts/:id", anyone, s.getAccount},
		{http.MethodGet, "/v1/accounts/:id/entries", anyone, s.getStatement},
		{http.MethodGet, "/v1/entries", auditors, s.getEntries},
		{http.MethodGet, "/v1/entries/:seq", anyone, s.getEntry},
		{http.MethodGet, "/v1/holds/:id", anyone, s.getHold},
		{http.MethodGet, "/v1/checkpoint", anyone, s.getCheckpoint},
		{http.MethodGet, "/v1/checkpoint/key", anyone, s.getCheckpointKey},
		{http.MethodGet, "/v1/proofs/inclusion", anyone, s.getInclusion},
		{http.MethodGet, "/v1/proofs/consistency", anyone, s.getConsistency},
		{http.MethodGet, "/v1/export", auditors, s.getExport},
		{http.MethodGet, "/v1/backup", adminOnly, s.getBackup},

		{http.MethodGet, "/healthz", public, s.getHealth},
		{http.MethodGet, "/metrics", public, s.getMetrics},
		{http.MethodGet, "/openapi.yaml", public, s.getOpenAPI},
	}
}

// routes registers the routes, and HEAD beside every GET: RFC 9110 §9.1 has a server support
// both, and a monitor's HEAD /healthz must not read 404. HEAD runs GET's handler, checks
// included; net/http sends the status and headers and drops the body (stream skips it).
func (s *Server) routes() {
	for _, r := range s.Routes() {
		h, g := r.handle, gate(r.Roles)
		handle := func(c echo.Context) error { return h(c, g) }
		s.e.Add(r.Method, r.Path, handle)
		if r.Method == http.MethodGet {
			s.e.Add(http.MethodHead, r.Path, handle)
		}
	}
}

// principalKey is where the authenticated principal lives in the Echo context.
const principalKey = "principal"

// check authenticates the request (401 unauthenticated) and checks that its role is in g
// (403 forbidden). The principal, and so the acting account, comes from the token alone.
func (g gate) check(s *Server, c echo.Context) (ledger.Principal, error) {
	p, err := s.authenticate(c)
	if err != nil {
		return p, err
	}
	for _, r := range g {
		if p.Role == r {
			return p, nil
		}
	}
	return p, errForbidden()
}

// maxTokenLength bounds the bearer secret looked at; longer ones are refused unhashed.
const maxTokenLength = 256

func (s *Server) authenticate(c echo.Context) (ledger.Principal, error) {
	// Two credentials leave open which acts: neither does.
	if len(c.Request().Header.Values(echo.HeaderAuthorization)) > 1 {
		return ledger.Principal{}, errUnauthenticated()
	}
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	scheme, secret, ok := strings.Cut(h, " ")
	secret = strings.TrimSpace(secret)
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" || len(secret) > maxTokenLength {
		return ledger.Principal{}, errUnauthenticated()
	}
	p, ok := s.svc.Authenticate(secret)
	if !ok {
		return ledger.Principal{}, errUnauthenticated()
	}
	c.Set(principalKey, p)
	return p, nil
}

// canSeeAccount reports whether p may see account id: admins and auditors see every
// account, the others only their own.
func canSeeAccount(p ledger.Principal, id ledger.AccountID) bool {
	return p.Role == ledger.RoleAdmin || p.Role == ledger.RoleAuditor || p.Account == id
}

func (s *Server) getHealth(c echo.Context, _ gate) error {
	if err := s.svc.Healthy(); err != nil {
		s.log.Warn("health check failed", "err", err)
		return ledger.Errorf(ledger.CodeUnavailable, "The ledger cannot write right now; try again shortly.")
	}
	return c.JSONBlob(http.StatusOK, []byte(`{"status":"ok"}`))
}

func (s *Server) getMetrics(c echo.Context, _ gate) error {
	promhttp.HandlerFor(s.metrics.gatherer, promhttp.HandlerOpts{}).ServeHTTP(c.Response(), c.Request())
	return nil
}

func (s *Server) getOpenAPI(c echo.Context, _ gate) error {
	return c.Blob(http.StatusOK, "application/yaml", openapiYAML)
}
