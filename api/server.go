// Package api is the HTTP face of the ledger: Echo routes, authentication and roles, strict
// decoding of request bodies, the error → status table, metrics and the OpenAPI description.
// It knows the ledger only through ledger.Service; cmd/timebank wires in the bbolt store.
package api

import (
	_ "embed"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/timebank/timebank/ledger"
)

//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPI returns the embedded OpenAPI 3 description of every route.
func OpenAPI() []byte { return openapiYAML }

// Options configure a Server. The zero value is usable.
type Options struct {
	// Logger gets one JSON line per request and the detail of every internal error.
	// Default: slog.Default().
	Logger *slog.Logger
	// Registry receives the HTTP metrics and serves /metrics; the store may register its own
	// collectors in it too. Default: a new registry with the Go and process collectors.
	Registry *prometheus.Registry
	// RateLimit is the steady number of requests per second one client address may make;
	// 0 turns rate limiting off, and a rate below MinRateLimit is taken as MinRateLimit.
	// RateBurst is the burst above it (default: RateLimit). A 429 carries Retry-After:
	// 1/RateLimit seconds, rounded up (100 at most).
	RateLimit float64
	RateBurst int
	// WriteIdle is the longest a write of an answer may wait for the client to take bytes
	// before the answer is cut and its connection closed (writeIdleLimit); an answer takes
	// as long as its client reads it. 0: no limit.
	WriteIdle time.Duration
	// Now is the clock for what reads derive from time: held and available amounts, a
	// hold's expired status (never earlier than the last entry's time: readNow). Default
	// time.Now; tests set the store's clock here too.
	Now func() time.Time
}

// Server is the HTTP API over one ledger.Service.
type Server struct {
	svc      ledger.Service
	log      *slog.Logger
	now      func() time.Time
	e        *echo.Echo
	metrics  *metrics
	inflight inflight

	assetsOnce sync.Once
	assetList  []assetInfo
}

// New builds the server and its routes. It does not listen: use Echo() or Handler().
func New(svc ledger.Service, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{svc: svc, log: opts.Logger, now: opts.Now}
	s.metrics = newMetrics(opts.Registry, s.Routes())
	s.inflight.keys = map[string]struct{}{}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// The service listens directly (127.0.0.1 by default, or a port a station's network
	// reaches); no proxy in front is assumed. ExtractIPDirect uses the TCP peer address, so
	// a client cannot forge X-Forwarded-For / X-Real-IP to dodge the per-address rate limit
	// or to write someone else's address into the log. Behind a trusted proxy, change this
	// to echo.ExtractIPFromXFFHeader with that proxy's range trusted.
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = s.handleError
	if opts.WriteIdle > 0 {
		e.Pre(writeIdleLimit(opts.WriteIdle))
	}
	e.Use(handledOnce, requestIDMiddleware, s.logAndMeasure(), middleware.RecoverWithConfig(middleware.RecoverConfig{
		// The panic's stack goes to the server's own log, with the request id, not to
		// Echo's logger on stdout; the client gets the plain internal error.
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("panic", "request_id", requestID(c), "err", err, "stack", string(stack))
			return err
		},
	}))
	if opts.RateLimit > 0 {
		e.Use(rateLimiter(opts.RateLimit, opts.RateBurst))
	}
	s.e = e
	s.routes()
	return s
}

// readNow is the time reads judge holds at (held, available, a hold's expired status): the
// time the next entry would get, max(now, last entry's + 1 µs), as the sequencer assigns it.
// After the wall clock steps back, the wall clock alone would show open again a hold that a
// settle sent now is refused as expired.
func (s *Server) readNow() int64 {
	return max(s.now().UnixMicro(), s.svc.LastTime()+1)
}

// Service returns the ledger the server serves.
func (s *Server) Service() ledger.Service { return s.svc }

// Echo returns the Echo instance (for Start, Shutdown and its http.Server settings).
func (s *Server) Echo() *echo.Echo { return s.e }

// Handler returns the server as an http.Handler.
func (s *Server) Handler() http.Handler { return s.e }

// requestIDKey is where the request id lives in the Echo context.
const requestIDKey = "request_id"

var (
	ridPrefix  = strconv.FormatInt(time.Now().UnixNano()&0xffffffffff, 36)
	ridCounter atomic.Uint64
)

// requestIDMiddleware gives every request an id, answered in X-Request-Id and written in
// its log line. Ids are made here, never taken from the client: a log is only useful if
// its ids cannot be forged. A process-start prefix and a counter are unique enough and cost
// nothing, unlike 32 random characters per request.
func requestIDMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rid := ridPrefix + "-" + strconv.FormatUint(ridCounter.Add(1), 36)
		c.Set(requestIDKey, rid)
		c.Response().Header().Set(echo.HeaderXRequestID, rid)
		return next(c)
	}
}

// handledOnce stops an error that the request logger has already answered (it calls
// c.Error itself, to log the status answered) from reaching the error handler twice.
//
// An error after the answer was committed (an export or backup failing half-way, logged by
// handleError) breaks the connection: its 200 is gone, and a body ended normally would
// let the client take a short stream for a whole one (`timebank export --out` would keep
// it). net/http closes the connection quietly on http.ErrAbortHandler; the client reads an
// unexpected EOF.
func handledOnce(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if cut, _ := c.Get(cutKey).(bool); cut {
			panic(http.ErrAbortHandler)
		}
		if err != nil && !c.Response().Committed {
			return err
		}
		return nil
	}
}

// cutKey marks in the Echo context an answer that failed after it was committed.
const cutKey = "cut"

func requestID(c echo.Context) string {
	rid, _ := c.Get(requestIDKey).(string)
	return rid
}

// logAndMeasure writes one slog line per request and records the request metrics. It
// handles the error itself (HandleError) so that the status it logs is the one answered.
func (s *Server) logAndMeasure() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		HandleError:  true,
		LogLatency:   true,
		LogStatus:    true,
		LogMethod:    true,
		LogURIPath:   true,
		LogRoutePath: true,
		LogRemoteIP:  true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			route := v.RoutePath
			if route == "" || v.Status == http.StatusNotFound && c.Path() == "" {
				route = unmatchedRoute
			}
			s.metrics.observe(route, v.Method, v.Status, v.Latency)
			level := slog.LevelInfo
			// A stream cut after its 200 (handleError) failed whatever its status says.
			cut, _ := c.Get(cutKey).(bool)
			if cut {
				s.metrics.observeCut(route)
			}
			if v.Status >= 500 || cut {
				level = slog.LevelError
			}
			s.log.LogAttrs(c.Request().Context(), level, "request",
				slog.String("request_id", requestID(c)),
				slog.String("method", v.Method),
				slog.String("path", redactSecrets(v.URIPath)),
				slog.String("route", route),
				slog.Int("status", v.Status),
				slog.Bool("cut", cut),
				slog.Int64("latency_us", v.Latency.Microseconds()),
				slog.String("remote_ip", v.RemoteIP),
			)
			return nil
		},
	})
}

// MinRateLimit is the smallest rate limit served, in requests per second per client
// address: one request in 100 seconds. A smaller one would promise a wait the limiter does
// not keep (it forgets an address after rateMemory without a request, and lets it have its
// burst again), and at the smallest rates 1/rate is a number of seconds no client parses, or
// infinity.
const MinRateLimit = 0.01

// rateMemory is how long the rate limiter remembers an address that sends nothing; it must
// outlast the longest Retry-After, 1/MinRateLimit seconds.
const rateMemory = 3 * time.Minute

// rateLimiter answers 429 rate_limited past perSecond requests per client address, with a
// Retry-After header: the whole seconds the limiter takes to allow one more request
// (1/perSecond, rounded up, so never 0: a client that waits that long is let through).
// perSecond below MinRateLimit is taken as MinRateLimit.
func rateLimiter(perSecond float64, burst int) echo.MiddlewareFunc {
	perSecond = max(perSecond, MinRateLimit)
	if burst <= 0 {
		burst = max(1, int(perSecond))
	}
	retryAfter := strconv.FormatFloat(math.Ceil(1/perSecond), 'f', 0, 64)
	deny := func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderRetryAfter, retryAfter)
		return errRateLimited()
	}
	store := middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: rate.Limit(perSecond), Burst: burst, ExpiresIn: rateMemory,
	})
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Skipper: func(c echo.Context) bool { return c.Path() == "/healthz" || c.Path() == "/metrics" },
		Store:   store,
		IdentifierExtractor: func(c echo.Context) (string, error) {
			return c.RealIP(), nil
		},
		ErrorHandler: func(c echo.Context, err error) error { return deny(c) },
		DenyHandler:  func(c echo.Context, id string, err error) error { return deny(c) },
	})
}

// inflight remembers the (actor, Idempotency-Key) pairs being processed, so that a duplicate
// arriving meanwhile answers 409 request_in_progress instead of racing the first one.
type inflight struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

// acquire marks key busy; it returns false when it already was.
func (f *inflight) acquire(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, busy := f.keys[key]; busy {
		return false
	}
	f.keys[key] = struct{}{}
	return true
}

func (f *inflight) release(key string) {
	f.mu.Lock()
	delete(f.keys, key)
	f.mu.Unlock()
}

// redactSecrets hides what looks like a token secret in a logged path (a secret sent by
// mistake as a token id, say): logs must never hold one.
func redactSecrets(path string) string {
	if !strings.Contains(path, ledger.TokenSecretPrefix) {
		return path
	}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ledger.TokenSecretPrefix) {
			parts[i] = ledger.TokenSecretPrefix + "[redacted]"
		}
	}
	return strings.Join(parts, "/")
}
