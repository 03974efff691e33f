package server

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// HTTPConfig bounds the HTTP side of a server that serves the lobby (and anything
// else: the arena serves its web client beside it). The zero value works.
type HTTPConfig struct {
	// ReadHeaderTimeout bounds reading a request's headers, which also closes a socket
	// that connects and sends nothing. Default: 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included, so that a request
	// announcing a body it never sends (a POST with Content-Length and nothing after
	// it) is closed. Default: 30 s. WebSocket connections set their own deadlines once
	// upgraded. Beware: net/http cancels the context of a request whose handler is
	// still running when the read deadline passes; a handler that may wait longer must
	// lift it (http.NewResponseController(w).SetReadDeadline(time.Time{})).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response (from the end of the request's headers).
	// Handlers that legitimately take longer (a download, a long poll) can extend their
	// own deadline with http.ResponseController. Default: 60 s.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive socket that sends no new request. Default: 120 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers. Default: 64 KiB.
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request body (every route but the WebSocket upgrade): a
	// larger announced body is refused with 413, a larger streamed one fails to read.
	// Default: 1 MiB.
	MaxBodyBytes int64
	// MaxSockets bounds the sockets the server holds that are not (or not yet)
	// WebSockets: beyond it a new socket is closed at once. Upgraded WebSockets stop
	// counting here and count against the lobby's Config.MaxConnections instead.
	// Default: 1024.
	MaxSockets int
	// Registerer receives the metrics lobby_http_sockets (gauge) and
	// lobby_http_rejections_total{reason} ("sockets": closed beyond MaxSockets; "body":
	// a body over MaxBodyBytes); a Server's Registry, say. Default: none.
	Registerer prometheus.Registerer
	// Logger receives the http.Server's own errors (at debug level: they are about
	// misbehaving clients). Default: discard.
	Logger *slog.Logger
}

// HTTP rejection reasons (lobby_http_rejections_total{reason}).
const (
	httpRejectSockets = "sockets"
	httpRejectBody    = "body"
)

// HTTPServer returns an http.Server serving h with the timeouts and limits of cfg: use
// it (with its Serve or ListenAndServe) instead of a bare http.Server, whose zero
// timeouts let a client hold a socket forever. cmd/lobby and the arena use it.
//
//	srv := lobbyserver.New(lobbyserver.Config{})
//	hs := lobbyserver.HTTPServer(srv.Mux(), lobbyserver.HTTPConfig{Registerer: srv.Registry()})
//	hs.Addr = ":8089"
//	go hs.ListenAndServe()
//	// on shutdown: hs.Shutdown(ctx), then srv.Close()
func HTTPServer(h http.Handler, cfg HTTPConfig) *http.Server {
	setDur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	setDur(&cfg.ReadHeaderTimeout, 10*time.Second)
	setDur(&cfg.ReadTimeout, 30*time.Second)
	setDur(&cfg.WriteTimeout, 60*time.Second)
	setDur(&cfg.IdleTimeout, 120*time.Second)
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 64 << 10
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxSockets <= 0 {
		cfg.MaxSockets = 1024
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sockets := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lobby_http_sockets", Help: "Sockets held by the HTTP server that are not WebSockets.",
	})
	rejections := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lobby_http_rejections_total", Help: "Sockets and requests refused by the HTTP limits, by reason.",
	}, []string{"reason"})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(sockets, rejections)
	}
	var open atomic.Int64
	return &http.Server{
		Handler:           limitBodies(h, cfg.MaxBodyBytes, rejections.WithLabelValues(httpRejectBody)),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		// Called synchronously by the accept loop for every new socket, so every socket
		// is counted before it costs more than its goroutine.
		ConnState: func(c net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				sockets.Inc()
				if open.Add(1) > int64(cfg.MaxSockets) {
					rejections.WithLabelValues(httpRejectSockets).Inc()
					_ = c.Close() // the server then reports StateClosed
				}
			case http.StateHijacked, http.StateClosed:
				sockets.Dec()
				open.Add(-1)
			}
		},
	}
}

// limitBodies bounds the bodies of every request but WebSocket upgrades.
func limitBodies(h http.Handler, max int64, rejected prometheus.Counter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			if r.ContentLength > max {
				rejected.Inc()
				w.Header().Set("Connection", "close")
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			r.Body = &countingBody{ReadCloser: http.MaxBytesReader(w, r.Body, max), rejected: rejected}
		}
		h.ServeHTTP(w, r)
	})
}

// countingBody counts the first read that MaxBytesReader refuses.
type countingBody struct {
	io.ReadCloser
	rejected prometheus.Counter
	counted  bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooBig *http.MaxBytesError
	if err != nil && !b.counted && errors.As(err, &tooBig) {
		b.counted = true
		b.rejected.Inc()
	}
	return n, err
}
