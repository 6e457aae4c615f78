package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofFlag registers --pprof of serve and bench soak: the address of a
// separate listener for Go's runtime profiles (heap, goroutine, CPU).
func pprofFlag(fs *flag.FlagSet, addr *string) {
	fs.StringVar(addr, "pprof", "", "serve Go's runtime profiles (/debug/pprof/: heap, goroutine, profile) on this address, e.g. 127.0.0.1:6060; off when empty. "+
		"Not the API's listener: keep it on loopback")
}

// startPprof serves /debug/pprof/ on addr until ctx ends. It listens
// before it returns, so that a taken port is an error at start.
func startPprof(ctx context.Context, addr string, log *slog.Logger) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof listener stopped", "addr", addr, "err", err)
		}
	}()
	log.Info("pprof listening", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}
