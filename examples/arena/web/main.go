//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall/js"
	"time"

	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/netcode"
)

// config is where the client finds its game: window.arenaConfig (written by the
// arena server), overridden by the page's query string (?lobby=&room=&name=).
type config struct {
	lobby, room, name string
	host              bool // ?host=1: host a game in this tab at once
}

func readConfig() config {
	var c config
	if ac := js.Global().Get("arenaConfig"); ac.Truthy() {
		c.lobby = jsString(ac.Get("lobby"))
		c.room = jsString(ac.Get("room"))
	}
	loc := js.Global().Get("location")
	q := js.Global().Get("URLSearchParams").New(loc.Get("search"))
	for _, kv := range []struct {
		key string
		dst *string
	}{{"lobby", &c.lobby}, {"room", &c.room}, {"name", &c.name}} {
		if v := q.Call("get", kv.key); !v.IsNull() {
			*kv.dst = v.String()
		}
	}
	c.host = q.Call("get", "host").Truthy()
	if c.lobby == "" {
		scheme := "ws://"
		if loc.Get("protocol").String() == "https:" {
			scheme = "wss://"
		}
		c.lobby = scheme + loc.Get("host").String() + "/ws"
	}
	if c.name == "" {
		c.name = fmt.Sprintf("web-%03d", rand.IntN(1000))
	}
	return c
}

func jsString(v js.Value) string {
	if v.Type() != js.TypeString {
		return ""
	}
	return v.String()
}

// app is the page: the connection loop hands sessions to the frame loop.
type app struct {
	cfg      config
	render   *renderer
	keys     *keyboard
	statusEl js.Value

	hostBtn  js.Value
	bannerEl js.Value
	inviteEl js.Value
	hostReq  chan struct{} // size 1: the "Host a game" button was pressed

	mu      sync.Mutex
	session *client.Session // current session, nil while (re)connecting; guarded by mu
	lobby   *lobby.Client   // its lobby connection; guarded by mu
	status  string          // connection status shown when not playing; guarded by mu
	hosting *tabHost        // the game this tab hosts, once it does; guarded by mu

	lastFrame float64 // owned by the frame callback
	frames    int
}

func main() {
	doc := js.Global().Get("document")
	a := &app{
		cfg:      readConfig(),
		statusEl: doc.Call("getElementById", "status"),
		hostBtn:  doc.Call("getElementById", "host"),
		bannerEl: doc.Call("getElementById", "banner"),
		inviteEl: doc.Call("getElementById", "invite"),
		hostReq:  make(chan struct{}, 1),
	}
	canvas := doc.Call("getElementById", "arena")
	a.render = newRenderer(canvas)
	a.keys = newKeyboard(canvas)
	canvas.Call("focus")
	a.statusEl.Set("textContent", "")

	if a.hostBtn.Truthy() {
		a.hostBtn.Set("onclick", js.FuncOf(func(js.Value, []js.Value) any {
			a.requestHost()
			return nil
		}))
		a.hostBtn.Get("style").Set("display", "")
	}
	if a.cfg.host {
		a.requestHost()
	}
	go a.run(context.Background())
	a.watchNetwork()
	a.onPageHide()

	var onFrame js.Func
	onFrame = js.FuncOf(func(_ js.Value, args []js.Value) any {
		a.frame(args[0].Float())
		js.Global().Call("requestAnimationFrame", onFrame)
		return nil
	})
	js.Global().Call("requestAnimationFrame", onFrame)
	select {} // the page lives as long as the tab
}

func (a *app) setStatus(s string) {
	a.mu.Lock()
	a.status = s
	a.mu.Unlock()
}

// requestHost asks run to stop joining and host a game in this tab. Never blocks.
func (a *app) requestHost() {
	select {
	case a.hostReq <- struct{}{}:
	default:
	}
}

// run joins a game until the player asks to host one, then hosts it for the rest of
// the page's life.
func (a *app) run(ctx context.Context) {
	joinCtx, stopJoining := context.WithCancel(ctx)
	joined := make(chan struct{})
	go func() {
		defer close(joined)
		a.connectLoop(joinCtx)
	}()
	select {
	case <-a.hostReq:
	case <-ctx.Done():
	}
	stopJoining()
	<-joined
	if a.hostBtn.Truthy() {
		a.hostBtn.Get("style").Set("display", "none")
	}
	a.hostGame(ctx)
}

// connectLoop joins the room and plays until the connection ends, then explains why
// and tries again with a growing delay.
func (a *app) connectLoop(ctx context.Context) {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		a.setStatus(fmt.Sprintf("Connecting to the lobby at %s…", a.cfg.lobby))
		err := a.play(ctx)
		if ctx.Err() != nil {
			return
		}
		why := describe(err)
		if a.cfg.room != "" && errors.Is(err, &lobby.Error{Code: lobby.CodeRoomNotFound}) {
			// The host restarted under a new room: take any open arena instead.
			a.cfg.room = ""
			why += "; looking for any open arena"
		}
		for left := backoff; left > 0; left -= time.Second {
			a.setStatus(fmt.Sprintf("%s. Reconnecting in %d s (attempt %d)…", why, int(left.Seconds()), attempt+1))
			select { // a visible countdown
			case <-time.After(time.Second):
			case <-ctx.Done():
				return
			}
		}
		backoff = min(2*backoff, 10*time.Second)
		if err == nil {
			backoff = time.Second
		}
	}
}

// Keys of what the page keeps in sessionStorage, so that a reload within the grace
// and resume windows brings back the same lobby member and the same player.
const (
	storeLobby   = "volley.arena.lobby"   // the lobby connection's resume token
	storeSession = "volley.arena.session" // the netcode session's ResumeState (JSON)
	storeMap     = "volley.arena.map"     // the room's map (its lobby metadata)
)

func storageGet(key string) string {
	v := js.Global().Get("sessionStorage").Call("getItem", key)
	if v.IsNull() {
		return ""
	}
	return v.String()
}

func storageSet(key, value string) {
	if value == "" {
		js.Global().Get("sessionStorage").Call("removeItem", key)
		return
	}
	js.Global().Get("sessionStorage").Call("setItem", key, value)
}

// joinLobby resumes the lobby connection the page had before a reload, or joins the
// room afresh.
func (a *app) joinLobby(ctx context.Context) (*lobby.Client, *lobby.PeerSignaler, *game.Map, error) {
	if tok := storageGet(storeLobby); tok != "" {
		lc, err := lobby.Dial(ctx, a.cfg.lobby, lobby.ClientConfig{Resume: tok})
		if err == nil {
			if room, host := lc.Room(); room != "" && !host {
				// The same room as before the reload: its map too.
				return lc, lc.HostSignaler(), client.MapFromMetadata(json.RawMessage(storageGet(storeMap))), nil
			}
			lc.Close()
		}
		storageSet(storeLobby, "")
	}
	lc, sig, m, err := client.JoinRoom(ctx, a.cfg.lobby, a.cfg.room, lobby.ClientConfig{})
	if err == nil {
		storageSet(storeMap, string(client.MapMetadata(m)))
	}
	return lc, sig, m, err
}

// connect resumes the netcode session the page had (across a reload, or after the
// connection was lost), or connects a new player.
func (a *app) connect(ctx context.Context, lc *lobby.Client, sig *lobby.PeerSignaler, m *game.Map) (*client.Session, error) {
	cfg := client.Config{Name: a.cfg.name, Netcode: client.WithLobbyICE(netcode.ClientConfig{}, lc), Map: m}
	if raw := storageGet(storeSession); raw != "" {
		var st netcode.ResumeState
		if json.Unmarshal([]byte(raw), &st) == nil {
			cfg.Resume = &st
			a.setStatus("Resuming the game…")
			sess, err := client.Connect(ctx, cfg, sig)
			if err == nil || !client.ResumeRefused(err) {
				return sess, err
			}
			js.Global().Get("console").Call("info", "arena: resumption refused: "+err.Error())
		}
		storageSet(storeSession, "")
		cfg.Resume = nil
	}
	return client.Connect(ctx, cfg, sig)
}

// save keeps what a reload needs to resume in sessionStorage. A tab that hosts keeps
// nothing: its game ends with the page.
func (a *app) save(sess *client.Session, lc *lobby.Client) {
	if a.tabHost() != nil {
		storageSet(storeLobby, "")
		storageSet(storeSession, "")
		return
	}
	if lc != nil {
		storageSet(storeLobby, lc.ResumeToken())
	}
	if sess == nil {
		return
	}
	raw := ""
	if st := sess.ResumeState(); st != nil {
		if b, err := json.Marshal(st); err == nil {
			raw = string(b)
		}
	}
	storageSet(storeSession, raw)
}

// onPageHide saves the resumption state when the page goes away (a reload).
func (a *app) onPageHide() {
	js.Global().Call("addEventListener", "pagehide", js.FuncOf(func(js.Value, []js.Value) any {
		a.mu.Lock()
		sess, lc := a.session, a.lobby
		a.mu.Unlock()
		a.save(sess, lc)
		return nil
	}))
}

// watchNetwork restarts ICE at once when the browser says the network changed,
// rather than waiting for ICE to notice the old path is dead.
func (a *app) watchNetwork() {
	restart := js.FuncOf(func(js.Value, []js.Value) any {
		a.mu.Lock()
		sess := a.session
		a.mu.Unlock()
		if sess != nil {
			sess.Netcode().RestartICE()
		}
		return nil
	})
	js.Global().Call("addEventListener", "online", restart)
	if conn := js.Global().Get("navigator").Get("connection"); conn.Truthy() {
		conn.Call("addEventListener", "change", restart)
	}
}

// play runs one connection: lobby, room, WebRTC session, until something ends it.
func (a *app) play(ctx context.Context) error {
	lc, sig, m, err := a.joinLobby(ctx)
	if err != nil {
		return err
	}
	defer lc.Close()
	a.setStatus("Connecting to the arena host over WebRTC…")
	sess, err := a.connect(ctx, lc, sig, m)
	if err != nil {
		return fmt.Errorf("WebRTC connection to the host failed: %w", err)
	}
	a.mu.Lock()
	a.session, a.lobby = sess, lc
	a.mu.Unlock()
	a.save(sess, lc)
	defer func() {
		a.mu.Lock()
		a.session, a.lobby = nil, nil
		a.mu.Unlock()
		// A lost connection leaves a state to resume with on the next attempt; a
		// session the host ended leaves none.
		a.save(sess, nil)
		storageSet(storeLobby, "")
		sess.Close()
	}()
	select {
	case <-sess.Done():
		return sess.Err()
	case <-ctx.Done():
		return ctx.Err()
	case <-lc.Done():
		// The lobby connection only carries signaling; the game can go on without it.
		select {
		case <-sess.Done():
			return sess.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// describe turns a connection error into a sentence for the player.
func describe(err error) string {
	if err != nil {
		js.Global().Get("console").Call("warn", "arena: "+err.Error())
	}
	if why, ok := client.Refusal(err); ok {
		return why
	}
	switch {
	case err == nil:
		return "Disconnected"
	case errors.Is(err, client.ErrLobbyUnreachable):
		return "Cannot reach the lobby (is the arena server running?)"
	case errors.Is(err, lobby.ErrRoomNotFound) || errors.Is(err, &lobby.Error{Code: lobby.CodeRoomNotFound}):
		return "The arena's room does not exist (the host is gone)"
	case errors.Is(err, &lobby.Error{Code: lobby.CodeRoomFull}):
		return "The arena is full"
	case errors.Is(err, &lobby.Error{Code: lobby.CodeNoRoomAvailable}):
		return "No arena is open on this lobby: press “Host a game” to open one in this tab"
	case errors.Is(err, netcode.ErrServerClosed):
		// The host's own words, e.g. that its browser tab was closed.
		if _, why, ok := strings.Cut(err.Error(), "host says: "); ok && why != "" && why != netcode.ErrClosed.Error() {
			return "The arena host shut down: " + why
		}
		return "The arena host shut down"
	case errors.Is(err, lobby.ErrRoomClosed):
		return "The arena host shut down"
	case errors.Is(err, netcode.ErrTimeout):
		return "The host stopped answering"
	case errors.Is(err, netcode.ErrConnectionLost):
		return "The WebRTC connection was lost"
	}
	return "Cannot play: " + err.Error()
}

// frame runs once per animation frame: input, prediction, drawing, and the state the
// headless test reads.
func (a *app) frame(now float64) {
	dt := 1.0 / 60
	if a.lastFrame > 0 {
		dt = math.Min(0.25, (now-a.lastFrame)/1000)
	}
	a.lastFrame = now
	a.frames++
	a.render.resize()

	a.mu.Lock()
	sess, status := a.session, a.status
	a.mu.Unlock()

	var f *client.Frame
	if sess != nil {
		sess.Poll()
		buttons, mx, my, hasPos := a.keys.buttons()
		self := sess.SelfPos()
		aim := sess.SelfAim()
		if hasPos {
			t := a.render.toArena(mx, my)
			aim = math.Atan2(t.Y-self.Y, t.X-self.X)
		}
		sess.Input(buttons, aim)
		f = sess.Frame(dt)
		if a.frames%30 == 0 {
			a.mu.Lock()
			lc := a.lobby
			a.mu.Unlock()
			a.save(sess, lc)
		}
	} else {
		f = &client.Frame{Status: status}
	}
	a.render.draw(f)
	a.publish(f)
}

// publish exposes the state on window.arenaState and in the title, for players'
// curiosity and for the headless browser test.
func (a *app) publish(f *client.Frame) {
	state := js.Global().Get("arenaState")
	if !state.Truthy() {
		state = js.Global().Get("Object").New()
		js.Global().Set("arenaState", state)
	}
	self, ok := f.SelfView()
	state.Set("connected", f.Connected)
	state.Set("playerId", int(f.Self))
	state.Set("players", len(f.Players))
	state.Set("frames", a.frames)
	state.Set("status", f.Status)
	state.Set("rttMs", f.Net.RTT.Milliseconds())
	state.Set("snapshotRate", f.Net.SnapshotRate)
	state.Set("entities", f.Net.Entities)
	state.Set("link", f.Net.Link)
	state.Set("restarts", f.Net.Restarts)
	state.Set("resumes", f.Net.Resumes)
	title := "Volley arena"
	if ok {
		state.Set("x", self.Pos.X)
		state.Set("y", self.Pos.Y)
		state.Set("alive", self.Alive)
		state.Set("kills", self.Kills)
		state.Set("deaths", self.Deaths)
		title = fmt.Sprintf("Volley arena — %s (%d kills)", self.Name, self.Kills)
	}
	if !f.Connected {
		title = "Volley arena — connecting"
	}
	doc := js.Global().Get("document")
	if doc.Get("title").String() != title {
		doc.Set("title", title)
	}
	a.publishHost(state)
	msg := ""
	if !f.Connected {
		msg = f.Status
	}
	if a.statusEl.Get("textContent").String() != msg {
		a.statusEl.Set("textContent", msg)
	}
}
