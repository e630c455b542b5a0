package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// ShutdownTimeout bounds how long Serve waits for requests in flight once its context ends.
const ShutdownTimeout = 15 * time.Second

// ListenAndServe listens on addr (":8081") and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve answers requests on ln until ctx ends, then stops accepting and waits up to
// ShutdownTimeout for the requests in flight. It returns nil after a clean shutdown.
// Meanwhile it checks whether Config.Redis may evict sagate's keys, at once and every
// 10s (evict.go), and runs WatchOperators.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watching sync.WaitGroup
	watching.Go(func() { s.evict.run(watchCtx) })
	watching.Go(func() { s.WatchOperators(watchCtx) })
	defer func() {
		stopWatch()
		watching.Wait()
	}()
	s.log.Info("admin listening", zap.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("serving the admin API: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serving the admin API: %w", serr)
	}
	if err != nil {
		return fmt.Errorf("shutting down the admin API: %w", err)
	}
	s.log.Info("admin stopped")
	return nil
}

// WatchOperators checks the operators file (Config.OperatorsFile) every
// Config.OperatorsFileInterval until ctx ends, and applies what it says. Serve runs it;
// whoever serves the Server otherwise (an httptest server) runs it too.
func (s *Server) WatchOperators(ctx context.Context) { s.ops.watch(ctx, s.opsEvery) }
