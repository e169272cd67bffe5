// Package mgmt is leaseguard's management API: versioned JSON over HTTP
// (/v1, described by docs/openapi.yaml) on a Unix socket of mode 0600,
// and on TCP only with mutual TLS, over the operations layer
// (cmd/internal/ops); Prometheus metrics on /metrics; and Client, the API
// as `leaseguard ctl` calls it.
package mgmt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/leaseguard/leaseguard/cmd/internal/config"
	"github.com/leaseguard/leaseguard/cmd/internal/ops"
)

// Config is where the API listens.
type Config struct {
	// Socket is the Unix socket's path; empty: no socket.
	Socket string
	// TCP, when set, also serves on TCP with mutual TLS: client
	// certificates are required and verified against ClientCA.
	TCP *config.TCP
	// Logger (nil discards) receives operator actions and failures.
	Logger *slog.Logger
	// Heartbeat is the interval of SSE keep-alive comments (default 15 s).
	Heartbeat time.Duration
}

// Server serves the API: a Task (Run, Ready).
type Server struct {
	ops       *ops.Ops
	log       *slog.Logger
	heartbeat time.Duration
	mux       *http.ServeMux
	http      *http.Server
	listeners []net.Listener
	socket    string
	ready     chan struct{}
	closeOnce sync.Once
}

// New listens where cfg says. TCP without a client CA is refused: the
// API is never served on the network without mutual TLS.
func New(o *ops.Ops, cfg Config) (*Server, error) {
	s := &Server{ops: o, log: cfg.Logger, heartbeat: cfg.Heartbeat, ready: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.heartbeat == 0 {
		s.heartbeat = 15 * time.Second
	}
	if cfg.Socket == "" && cfg.TCP == nil {
		return nil, errors.New("api: neither a socket nor a TCP listener configured")
	}
	var tlsCfg *tls.Config
	if cfg.TCP != nil {
		var err error
		if tlsCfg, err = ServerTLS(cfg.TCP); err != nil {
			return nil, err
		}
	}
	if cfg.Socket != "" {
		ln, err := listenUnix(cfg.Socket)
		if err != nil {
			return nil, err
		}
		s.socket = cfg.Socket
		s.listeners = append(s.listeners, ln)
	}
	if cfg.TCP != nil {
		ln, err := net.Listen("tcp", cfg.TCP.Listen)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("api.tcp.listen: %w", err)
		}
		s.listeners = append(s.listeners, tls.NewListener(ln, tlsCfg))
	}
	s.http = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 3 * time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	return s, nil
}

// ServerTLS is the TLS configuration of the TCP listener: the server's
// certificate, and client certificates required and verified against the
// configured CA.
func ServerTLS(t *config.TCP) (*tls.Config, error) {
	if t.ClientCA == "" {
		return nil, errors.New("api.tcp.client_ca: required: the API is served on TCP only with mutual TLS")
	}
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("api.tcp.cert/key: %w", err)
	}
	pem, err := os.ReadFile(t.ClientCA)
	if err != nil {
		return nil, fmt.Errorf("api.tcp.client_ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("api.tcp.client_ca: no PEM certificate in %s", t.ClientCA)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// listenUnix binds path with mode 0600 from the start: it listens on a
// temporary name in the same directory, restricts it, then renames it
// into place, so no client ever finds it open to others. A stale socket
// (nobody accepting) is replaced; a live one, or anything that is not a
// socket, is an error.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("api.socket: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("api.socket: %s is in use by another process", path)
		}
	}
	// A run directory such as /run is made at boot by the init system; a
	// line card's minimal init may not, and a missing directory must not
	// leave the card without its management plane.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("api.socket: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.%d", filepath.Base(path), os.Getpid()))
	_ = os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("api.socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("api.socket: %w", err)
	}
	return ln, nil
}

// Addrs are the addresses listened on (the TCP port chosen for ":0").
func (s *Server) Addrs() []net.Addr {
	var out []net.Addr
	for _, ln := range s.listeners {
		out = append(out, ln.Addr())
	}
	return out
}

// Ready is closed once Run serves.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Run serves until ctx ends, then stops: requests in progress get a few
// seconds, event streams end at once. It returns ctx's error.
func (s *Server) Run(ctx context.Context) error {
	defer s.Close()
	s.http.BaseContext = func(net.Listener) context.Context { return ctx }
	errs := make(chan error, len(s.listeners))
	for _, ln := range s.listeners {
		go func() { errs <- s.http.Serve(ln) }()
	}
	close(s.ready)
	select {
	case <-ctx.Done():
	case err := <-errs:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("api: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = s.http.Shutdown(sctx)
	return ctx.Err()
}

// Close stops listening and removes the socket (Run does it on return).
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.http != nil {
			s.http.Close()
		}
		for _, ln := range s.listeners {
			ln.Close()
		}
		if s.socket != "" {
			os.Remove(s.socket)
		}
	})
}
