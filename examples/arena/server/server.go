// Package server assembles the arena: a lobby (or a connection to an external one), an
// arena host in a lobby room, optional native bots, and a web server for the browser
// clients: the Go client at / (built to wasm on start, cached, served gzip-compressed
// with wasm_exec.js) and the JavaScript client at /js/ (plain JS on the js/ package's
// bundle, no build).
// The arena command is a thin main around Run; tests start the same thing in-process.
package server

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/volleynet/volley/examples/arena/bot"
	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/host"
	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/netcode/netcodeprom"
)

//go:embed static/index.html
var indexHTML []byte

// jsFiles is the JavaScript client served at /js/: its page, the arena code (arena.js,
// game.js) and the bundle of the js/ package (volley.js, written by npm run bundle).
//
//go:embed static/js
var jsFiles embed.FS

// favicon is a 16×16 ball, so that browsers asking for /favicon.ico get no 404.
//
//go:embed static/favicon.ico
var favicon []byte

// Config configures an arena. The zero value serves on 127.0.0.1 at a free port with
// an in-process lobby, no bots, and ICE over all interfaces.
type Config struct {
	// Addr is the web server's listen address. Default "127.0.0.1:0" (a free port);
	// the arena command uses "localhost:8080".
	Addr string
	// Listener, if set, is the web server's listener and Addr is ignored: the arena
	// command listens before anything else so that a taken port is its only error.
	// Close closes it. Default: Start listens on Addr, before it starts anything.
	Listener net.Listener
	// LobbyURL is an external lobby's WebSocket URL ("ws://host:port/ws") for the
	// host and the bots to use. Default: run a lobby in-process, served at /ws.
	LobbyURL string
	// PageLobbyURL is the lobby URL the browser client uses. Default: the in-process
	// lobby on the page's own origin, or LobbyURL when that is set.
	PageLobbyURL string
	// RoomName names the host's room. Default "arena".
	RoomName string
	// HostSecret is sent when creating the room, for lobbies that restrict who may
	// host. Default: none.
	HostSecret string
	// Capacity is the room's member capacity. Default: the map's MaxPlayers (64
	// on the classic arena).
	Capacity int
	// Map is the arena's layout; the room's metadata names it, so that clients
	// joining through the lobby play the same one. Default: game.DefaultMap. A
	// large map (game.NewMap) is for the Go clients: the JavaScript page at /js/
	// plays the classic arena only (the host refuses it: another schema).
	Map *game.Map
	// Bots is the number of native bots to run in-process. Default 0.
	Bots int
	// NoHost runs no game host: the arena serves the lobby and the web page only,
	// and players host games from their browser tabs ("Host a game"); bots, if
	// any, quick-join whatever room is open. Default false.
	NoHost bool
	// Transport configures WebRTC for the host and the bots (set
	// ICE.LoopbackOnly for a localhost arena). Default: netcode's defaults.
	Transport netcode.TransportConfig
	// Netcode configures the host's netcode server; Transport above overrides its
	// Transport. Default: netcode's defaults.
	Netcode netcode.ServerConfig
	// NoWeb skips building and serving the wasm browser client (the page then
	// explains that it is disabled). The JavaScript client at /js/ needs no build and
	// is always served. Default false.
	NoWeb bool
	// CacheDir holds built wasm clients. Default: volley-arena-cache in the OS temp
	// directory.
	CacheDir string
	// Compiling, if set, is called on another goroutine when the wasm client is not
	// in CacheDir and its compilation starts (it is not called for a cached client),
	// so that a command can say what it is waiting for. Default: nothing.
	Compiling func()
	// Logger receives the arena's events. Default: discard.
	Logger *slog.Logger
}

// Arena is a running arena.
type Arena struct {
	// URL is the web client's address, e.g. "http://127.0.0.1:8080/".
	URL string
	// LobbyURL is the lobby WebSocket URL the host and bots use.
	LobbyURL string
	// RoomID is the host's lobby room ("" with Config.NoHost).
	RoomID string
	// Host is the game host (nil with Config.NoHost).
	Host *host.Host

	cfg      Config
	log      *slog.Logger
	lobby    *lobbyserver.Server // nil with an external lobby
	http     *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	wasmDone chan struct{}
	execJS   []byte     // wasm_exec.js, nil if the Go installation lacks it
	wasm     *wasmAsset // set before wasmDone closes
	wasmErr  error      // set before wasmDone closes
	bots     *bot.Swarm
	closeErr error
	once     sync.Once
}

// Start starts an arena and returns once the host's room exists. The wasm client
// builds in the background: WaitWeb waits for it.
func Start(ctx context.Context, cfg Config) (a *Arena, err error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.RoomName == "" {
		cfg.RoomName = "arena"
	}
	if cfg.Map == nil {
		cfg.Map = game.DefaultMap
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = cfg.Map.MaxPlayers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	a = &Arena{cfg: cfg, log: cfg.Logger, cancel: cancel, wasmDone: make(chan struct{})}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()

	// Listen first: a taken port must fail before the wasm build starts (its
	// cancellation would only add a confusing second error).
	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			close(a.wasmDone)
			return a, fmt.Errorf("web server: %w", err)
		}
	}

	if !cfg.NoWeb {
		a.execJS, a.wasmErr = loadExecJS(ctx)
	}
	if cfg.NoWeb || a.wasmErr != nil {
		if a.wasmErr == nil {
			a.wasmErr = errors.New("the browser client is disabled on this server")
		}
		close(a.wasmDone)
	} else {
		go func() {
			defer close(a.wasmDone)
			a.wasm, a.wasmErr = buildWasm(runCtx, cfg.CacheDir, WebPackage, cfg.Compiling)
			switch {
			case a.wasmErr != nil:
				a.log.Error("wasm client build failed; the web page will show why", "err", a.wasmErr)
			case a.wasm.cached:
				a.log.Info("wasm client from cache", "gzip_bytes", len(a.wasm.gz))
			default:
				a.log.Info("wasm client built", "bytes", a.wasm.rawBytes, "gzip_bytes", len(a.wasm.gz))
			}
		}()
	}

	a.URL = "http://" + browserHost(ln.Addr().String()) + "/"
	mux := http.NewServeMux()
	// /metrics: the host's netcode metrics (registered once the host exists) and
	// the embedded lobby's.
	metrics := prometheus.NewRegistry()
	gather := prometheus.Gatherers{metrics}
	if cfg.LobbyURL == "" {
		a.lobby = lobbyserver.New(lobbyserver.Config{Logger: cfg.Logger.With("component", "lobby")})
		mux.Handle("/ws", a.lobby)
		mux.Handle("/rooms/events", a.lobby.RoomEventsHandler())
		mux.Handle("/healthz", a.lobby.HealthHandler())
		gather = append(gather, a.lobby.Gatherer())
		a.LobbyURL = "ws://" + ln.Addr().String() + "/ws"
	} else {
		a.LobbyURL = cfg.LobbyURL
	}
	mux.Handle("/metrics", promhttp.HandlerFor(gather, promhttp.HandlerOpts{}))
	mux.HandleFunc("/{$}", a.serveIndex)
	mux.HandleFunc("/favicon.ico", serveFavicon)
	mux.HandleFunc("/config.js", a.serveConfig)
	mux.HandleFunc("/wasm_exec.js", a.serveExecJS)
	mux.HandleFunc("/arena.wasm", a.serveWasm)
	mux.Handle("/js/", jsHandler())
	mux.HandleFunc("/js/schema.json", serveSchema)
	a.http = lobbyserver.HTTPServer(mux, lobbyserver.HTTPConfig{
		WriteTimeout: webWriteTimeout,
		Registerer:   metrics,
		Logger:       cfg.Logger.With("component", "http"),
	})
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := a.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("web server", "err", err)
		}
	}()

	if !cfg.NoHost {
		if err := a.startHost(ctx, runCtx, metrics); err != nil {
			return a, err
		}
	}

	if cfg.Bots > 0 {
		a.bots = bot.StartSwarm(runCtx, bot.SwarmConfig{
			N:        cfg.Bots,
			LobbyURL: a.LobbyURL,
			RoomID:   a.RoomID,
			Client:   netcode.ClientConfig{Transport: cfg.Transport},
			Logger:   cfg.Logger.With("component", "bots"),
		})
	}
	return a, nil
}

// startHost starts the arena's own game host and waits for its lobby room.
func (a *Arena) startHost(ctx, runCtx context.Context, metrics *prometheus.Registry) error {
	cfg := a.cfg
	nc := cfg.Netcode
	nc.Transport = cfg.Transport
	if nc.Logger == nil {
		nc.Logger = cfg.Logger.With("component", "netcode")
	}
	var err error
	a.Host, err = host.New(host.Config{Netcode: nc, Map: cfg.Map, Logger: cfg.Logger.With("component", "host")})
	if err != nil {
		return err
	}
	if err := metrics.Register(netcodeprom.NewCollector(a.Host.Server())); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	room := make(chan string, 1)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.hostLoop(runCtx, room)
	}()
	select {
	case a.RoomID = <-room:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// browserHost turns a listen address into one a browser can open: an unspecified IP
// becomes localhost.
func browserHost(addr string) string {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
		h = "localhost"
	}
	return net.JoinHostPort(h, p)
}

// hostLoop keeps the host in a lobby room: it connects, creates the room, accepts
// members into the game, and reconnects (with a new room) if the lobby connection
// drops. The first room's ID goes to room.
func (a *Arena) hostLoop(ctx context.Context, room chan<- string) {
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		err := a.hostOnce(ctx, room)
		if ctx.Err() != nil {
			return
		}
		a.log.Warn("host lost its lobby connection; reconnecting", "err", err, "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (a *Arena) hostOnce(ctx context.Context, room chan<- string) error {
	lc, err := lobby.Dial(ctx, a.LobbyURL, lobby.ClientConfig{Logger: a.log.With("component", "host-lobby")})
	if err != nil {
		return err
	}
	defer lc.Close()
	info, err := lc.Create(ctx, lobby.RoomOptions{Name: a.cfg.RoomName, Capacity: a.cfg.Capacity, Secret: a.cfg.HostSecret,
		Game: game.LobbyGame, GameVersion: game.LobbyVersionFor(a.cfg.Map), Metadata: client.MapMetadata(a.cfg.Map)})
	if err != nil {
		return err
	}
	a.log.Info("arena room open", "room", info.ID, "lobby", a.LobbyURL)
	select {
	case room <- info.ID:
	default:
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		peer, sig, err := lc.AcceptMember(ctx)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.Host.Accept(ctx, sig); err != nil {
				// Abandoned handshakes (the peer left or offered again) are what a
				// churning peer produces: not worth a line each.
				level := slog.LevelInfo
				if errors.Is(err, netcode.ErrReplaced) || errors.Is(err, netcode.ErrSignaling) {
					level = slog.LevelDebug
				}
				a.log.Log(ctx, level, "player could not connect", "peer", peer, "err", err)
			}
		}()
	}
}

// WaitWeb waits for the wasm client build and returns its error.
func (a *Arena) WaitWeb(ctx context.Context) error {
	select {
	case <-a.wasmDone:
		return a.wasmErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Bots returns the in-process bots (nil without any).
func (a *Arena) Bots() *bot.Swarm { return a.bots }

// Close stops the bots, the host, the lobby and the web server, and waits for them.
func (a *Arena) Close() error {
	a.once.Do(func() {
		a.cancel()
		if a.bots != nil {
			a.bots.Wait()
		}
		if a.Host != nil {
			a.closeErr = a.Host.Close()
		}
		if a.lobby != nil {
			a.lobby.Close()
		}
		if a.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			a.http.Shutdown(ctx)
			cancel()
		}
		a.wg.Wait()
		<-a.wasmDone
	})
	return a.closeErr
}

// Run starts an arena, calls ready with it, and closes it when ctx ends.
func Run(ctx context.Context, cfg Config, ready func(*Arena)) error {
	a, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(a)
	}
	<-ctx.Done()
	return a.Close()
}

// jsHandler serves the JavaScript client's files.
func jsHandler() http.Handler {
	sub, err := fs.Sub(jsFiles, "static/js")
	if err != nil {
		panic(err) // the embedded directory exists: a build bug
	}
	files := http.StripPrefix("/js/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// serveSchema serves the arena's snapshot schema descriptor, from which the JS client
// decodes snapshots (the same bytes as examples/arena/schema/arena.json).
func serveSchema(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(game.NewRegistry().Schema().JSON())
}

func serveFavicon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "image/x-icon")
	w.Header().Set("Cache-Control", "max-age=86400")
	w.Write(favicon)
}

func (a *Arena) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(indexHTML)
}

// pageConfig is window.arenaConfig: where the browser client finds its game.
type pageConfig struct {
	// Lobby is the lobby WebSocket URL; "" means ws(s)://<page host>/ws.
	Lobby string `json:"lobby"`
	// Room is the room to join; "" means quick-join any room.
	Room string `json:"room"`
	// Game and GameVersion are what the arena's rooms announce in the lobby; the
	// page's room list (the lobby's /rooms/events feed) shows only those.
	Game        string `json:"game"`
	GameVersion string `json:"gameVersion"`
	// Error, when set, is shown instead of starting the game.
	Error string `json:"error,omitempty"`
}

func (a *Arena) serveConfig(w http.ResponseWriter, r *http.Request) {
	pc := pageConfig{Lobby: a.cfg.PageLobbyURL, Game: game.LobbyGame, GameVersion: game.LobbyVersion}
	switch {
	case pc.Lobby != "":
		// An explicit page lobby: the room ID there is unknown, quick-join.
	case a.cfg.LobbyURL != "":
		pc.Lobby, pc.Room = a.cfg.LobbyURL, a.RoomID
	default:
		pc.Room = a.RoomID
	}
	select {
	case <-a.wasmDone:
		if a.wasmErr != nil {
			pc.Error = a.wasmErr.Error()
		}
	default:
	}
	b, _ := json.Marshal(pc)
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, "window.arenaConfig = %s;\n", b)
}

// webWriteTimeout bounds writing a response of the web server (the wasm client is a
// few megabytes).
const webWriteTimeout = 60 * time.Second

// waitWasm holds a request until the build is done; it reports false (having written
// the error) if the build failed or the request ended.
func (a *Arena) waitWasm(w http.ResponseWriter, r *http.Request) bool {
	// The first build can take minutes, longer than the server's read and write
	// timeouts: lift them while waiting (a read timeout would cancel the request).
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	select {
	case <-a.wasmDone:
	case <-r.Context().Done():
		return false
	}
	_ = rc.SetWriteDeadline(time.Now().Add(webWriteTimeout))
	if a.wasmErr != nil {
		msg := a.wasmErr.Error()
		if !strings.HasPrefix(msg, "arena") {
			msg = "arena: " + msg
		}
		http.Error(w, msg, http.StatusServiceUnavailable)
		return false
	}
	return true
}

func (a *Arena) serveWasm(w http.ResponseWriter, r *http.Request) {
	if a.waitWasm(w, r) {
		a.wasm.serveWasm(w, r)
	}
}

func (a *Arena) serveExecJS(w http.ResponseWriter, r *http.Request) {
	if a.execJS == nil {
		http.Error(w, "wasm_exec.js unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(a.execJS)
}

// PageURL returns the page URL with query parameters (e.g. name=alice).
func (a *Arena) PageURL(query url.Values) string {
	if len(query) == 0 {
		return a.URL
	}
	return a.URL + "?" + query.Encode()
}
