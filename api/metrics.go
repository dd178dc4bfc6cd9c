package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a registry with the Go runtime and process collectors, for the API's
// metrics and any the store adds.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// metrics are the API's request metrics, by route pattern, method and status. Every label
// takes values from a fixed set, whatever the client sends: each new value costs a counter
// and a histogram (17 series), so a label that copied the request would let anyone, without
// a token, grow /metrics and the server's memory without end.
type metrics struct {
	gatherer prometheus.Gatherer
	routes   map[string]bool // the route patterns of the API
	requests *prometheus.CounterVec
	cut      *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// Label values for what is not the API's own.
const (
	otherMethod    = "other"     // a method outside the standard set (methodLabel)
	unmatchedRoute = "unmatched" // a path that matches no route
)

// newMetrics registers the request metrics in r; routes are the API's route patterns, the
// only route label values besides unmatchedRoute.
func newMetrics(r *prometheus.Registry, routes []Route) *metrics {
	m := &metrics{
		gatherer: r,
		routes:   make(map[string]bool, len(routes)),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "timebank_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		cut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "timebank_http_streams_cut_total",
			Help: "Answers (mostly export, backup) that failed after their 200 was sent, their client's reading stalled included, and were cut: their requests count under status 200.",
		}, []string{"route"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "timebank_http_request_duration_seconds",
			Help:    "Time from request to answer, by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route", "method"}),
	}
	for _, rt := range routes {
		m.routes[rt.Path] = true
	}
	// The cut streams' series exist from the start, at 0: a counter that first appears at 1
	// is missed by increase() and rate(), so an alert on it would never fire for the first cut.
	for _, route := range streamRoutes {
		m.cut.WithLabelValues(route)
	}
	r.MustRegister(m.requests, m.cut, m.latency)
	return m
}

// streamRoutes are the routes whose answers are streamed, and may be cut after their 200.
var streamRoutes = []string{"/v1/export", "/v1/backup"}

// observe counts one answer. route is the matched route pattern (anything else counts as
// unmatchedRoute), method the request's (outside the standard set: otherMethod), status the
// one answered: a number the server chose.
func (m *metrics) observe(route, method string, status int, latency time.Duration) {
	if !m.routes[route] {
		route = unmatchedRoute
	}
	method = methodLabel(method)
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(latency.Seconds())
}

// observeCut counts a streamed answer cut after its 200 (route as in observe).
func (m *metrics) observeCut(route string) {
	if !m.routes[route] {
		route = unmatchedRoute
	}
	m.cut.WithLabelValues(route).Inc()
}

// methodLabel is method if it is one of the standard methods a client of this API may
// use, else otherMethod. Methods are case-sensitive (RFC 9110 §9.1): "get" is other too.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return method
	}
	return otherMethod
}
