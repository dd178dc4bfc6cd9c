package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
)

// listenDebug listens on addr for serveDebug; an empty addr serves no profiler (nil).
func listenDebug(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	return net.Listen("tcp", addr)
}

// serveDebug serves Go's profiler on its own listener, never on the API's: the profiles
// need no token, so they must not be reachable where the API is. It runs until the
// process ends.
func serveDebug(ln net.Listener, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout}
	fmt.Printf("timebank: profiler on http://%s/debug/pprof/\n", ln.Addr())
	go func() {
		if err := hs.Serve(ln); err != nil {
			log.Error("profiler stopped", "err", err)
		}
	}()
}
