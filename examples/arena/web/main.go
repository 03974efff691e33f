//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"syscall/js"
	"time"

	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/netcode"
)

// config is where the client finds its game: window.arenaConfig (written by the
// arena server), overridden by the page's query string (?lobby=&room=&name=).
type config struct {
	lobby, room, name string
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

	mu      sync.Mutex
	session *client.Session // current session, nil while (re)connecting; guarded by mu
	status  string          // connection status shown when not playing; guarded by mu

	lastFrame float64 // owned by the frame callback
	frames    int
}

func main() {
	doc := js.Global().Get("document")
	a := &app{
		cfg:      readConfig(),
		statusEl: doc.Call("getElementById", "status"),
	}
	canvas := doc.Call("getElementById", "arena")
	a.render = newRenderer(canvas)
	a.keys = newKeyboard(canvas)
	canvas.Call("focus")
	a.statusEl.Set("textContent", "")

	go a.connectLoop(context.Background())

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

// connectLoop joins the room and plays until the connection ends, then explains why
// and tries again with a growing delay.
func (a *app) connectLoop(ctx context.Context) {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		a.setStatus(fmt.Sprintf("Connecting to the lobby at %s…", a.cfg.lobby))
		err := a.play(ctx)
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

// play runs one connection: lobby, room, WebRTC session, until something ends it.
func (a *app) play(ctx context.Context) error {
	lc, sig, m, err := client.JoinRoom(ctx, a.cfg.lobby, a.cfg.room, lobby.ClientConfig{})
	if err != nil {
		return err
	}
	defer lc.Close()
	a.setStatus("Connecting to the arena host over WebRTC…")
	sess, err := client.Connect(ctx, client.Config{
		Name:    a.cfg.name,
		Netcode: client.WithLobbyICE(netcode.ClientConfig{}, lc),
		Map:     m,
	}, sig)
	if err != nil {
		return fmt.Errorf("WebRTC connection to the host failed: %w", err)
	}
	a.mu.Lock()
	a.session = sess
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.session = nil
		a.mu.Unlock()
		sess.Close()
	}()
	select {
	case <-sess.Done():
		return sess.Err()
	case <-lc.Done():
		// The lobby connection only carries signaling; the game can go on without it.
		<-sess.Done()
		return sess.Err()
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
		return "No arena is open on this lobby"
	case errors.Is(err, netcode.ErrServerClosed) || errors.Is(err, lobby.ErrRoomClosed):
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
	msg := ""
	if !f.Connected {
		msg = f.Status
	}
	if a.statusEl.Get("textContent").String() != msg {
		a.statusEl.Set("textContent", msg)
	}
}
