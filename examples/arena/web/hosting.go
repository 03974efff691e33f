//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall/js"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/host"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/netcode"
)

// hostHistory is how many ticks of the host's state arenaHostAt can return (10 s at
// 60 Hz), for tests that compare a joining client's view with the host tab's state.
const hostHistory = 600

// tabHost is a game hosted by this tab: the Go game rules (package host) on a
// netcode.Server running on the browser's RTCPeerConnection, a lobby room that
// other browsers and native bots join, and the tab's own player on a local client.
type tabHost struct {
	h *host.Host

	mu       sync.Mutex
	room     string // the current lobby room ("" while the lobby is unreachable)
	lobbyErr string // why the lobby connection ended, while retrying
}

// hostGame runs this tab's game until the page goes away: it connects to the
// lobby, starts the host (with the lobby's ICE servers), joins the tab's player
// through a local client, creates a room and accepts its members; when the lobby
// connection drops, the game goes on for those connected and a new room is created
// once the lobby is back.
func (a *app) hostGame(ctx context.Context) {
	backoff := time.Second
	for ctx.Err() == nil {
		err := a.hostOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		why := describe(err)
		th := a.tabHost()
		if th == nil {
			a.setStatus(fmt.Sprintf("Could not start a game: %s. Retrying in %d s…", why, int(backoff.Seconds())))
		} else {
			th.mu.Lock()
			th.room, th.lobbyErr = "", why
			th.mu.Unlock()
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (a *app) tabHost() *tabHost {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.hosting
}

// hostOnce runs one lobby connection of the hosting tab.
func (a *app) hostOnce(ctx context.Context) error {
	a.setStatus(fmt.Sprintf("Connecting to the lobby at %s to open a game…", a.cfg.lobby))
	lc, err := lobby.Dial(ctx, a.cfg.lobby, lobby.ClientConfig{})
	if err != nil {
		return fmt.Errorf("%w at %s: %w", client.ErrLobbyUnreachable, a.cfg.lobby, err)
	}
	defer lc.Close()
	th := a.tabHost()
	if th == nil {
		if th, err = a.startHost(ctx, lc); err != nil {
			return err
		}
	}
	info, err := lc.Create(ctx, lobby.RoomOptions{
		Name:        fmt.Sprintf("%s's arena (browser)", a.cfg.name),
		Capacity:    16,
		Metadata:    json.RawMessage(`{"host":"browser"}`),
		Game:        game.LobbyGame,
		GameVersion: game.LobbyVersion,
	})
	if err != nil {
		return fmt.Errorf("cannot open a lobby room: %w", err)
	}
	th.mu.Lock()
	th.room, th.lobbyErr = info.ID, ""
	th.mu.Unlock()
	js.Global().Get("console").Call("info", "arena: hosting room "+info.ID)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		_, sig, err := lc.AcceptMember(ctx)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := th.h.Accept(ctx, sig); err != nil && !errors.Is(err, netcode.ErrReplaced) {
				js.Global().Get("console").Call("warn", "arena: a player could not connect: "+err.Error())
			}
		}()
	}
}

// startHost starts the game in this tab and joins the tab's player to it.
func (a *app) startHost(ctx context.Context, lc *lobby.Client) (*tabHost, error) {
	var ice []webrtc.ICEServer
	for _, s := range lc.ICEServers() {
		ice = append(ice, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	h, err := host.New(host.Config{
		Netcode: netcode.ServerConfig{
			Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{Servers: ice}},
			Page:      netcode.PageConfig{Goodbye: fmt.Sprintf("the host (%s) closed the browser tab hosting the game", a.cfg.name)},
		},
		History: hostHistory,
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	sess, err := client.ConnectLocal(ctx, client.Config{Name: a.cfg.name}, h.Server())
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("the tab's own player could not join its game: %w", err)
	}
	th := &tabHost{h: h}
	a.mu.Lock()
	a.hosting = th
	a.session = sess
	a.mu.Unlock()
	a.installHostAPI(th)
	return th, nil
}

// hostView is window.arenaHost: the host tab's state, for players' curiosity and tests.
type hostView struct {
	Room     string            `json:"roomId"`
	LobbyErr string            `json:"lobbyError,omitempty"`
	Tick     uint32            `json:"tick"`
	Clients  int               `json:"clients"`
	Players  []hostPlayer      `json:"players"`
	Loop     netcode.LoopStats `json:"loop"`
	Page     netcode.PageStats `json:"page"`
}

type hostPlayer struct {
	ID    uint32  `json:"id"`
	Name  string  `json:"name"`
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	Alive bool    `json:"alive"`
	Kills int     `json:"kills"`
}

// view assembles window.arenaHost.
func (th *tabHost) view() hostView {
	th.mu.Lock()
	v := hostView{Room: th.room, LobbyErr: th.lobbyErr}
	th.mu.Unlock()
	s := th.h.Summary()
	srv := th.h.Server()
	v.Tick, v.Loop, v.Page = s.Tick, srv.LoopStats(), srv.Page()
	v.Clients = v.Loop.Clients
	for _, p := range s.Players {
		v.Players = append(v.Players, hostPlayer{ID: uint32(p.ID), Name: p.Name, X: p.Pos.X, Y: p.Pos.Y, Alive: p.Alive, Kills: p.Kills})
	}
	return v
}

// installHostAPI exposes the host's state to the page: window.arenaHostState()
// returns window.arenaHost as JSON, window.arenaHostAt(tick) the host's full state
// after that tick (package host's Summary as JSON, "" once out of the history).
func (a *app) installHostAPI(th *tabHost) {
	js.Global().Set("arenaHostState", js.FuncOf(func(js.Value, []js.Value) any {
		b, _ := json.Marshal(th.view())
		return string(b)
	}))
	js.Global().Set("arenaHostAt", js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) < 1 {
			return ""
		}
		s, ok := th.h.At(uint32(args[0].Int()))
		if !ok {
			return ""
		}
		b, _ := json.Marshal(s)
		return string(b)
	}))
}

// publishHost shows the hosting banner and exposes window.arenaHost (and
// arenaState.hosting / roomId) once this tab hosts a game.
func (a *app) publishHost(state js.Value) {
	th := a.tabHost()
	state.Set("hosting", th != nil)
	if th == nil {
		return
	}
	v := th.view()
	state.Set("roomId", v.Room)
	b, _ := json.Marshal(v)
	js.Global().Set("arenaHost", js.Global().Get("JSON").Call("parse", string(b)))
	if !a.bannerEl.Truthy() {
		return
	}
	text := "Hosting this game in your tab — closing or reloading it ends the game for everyone."
	switch {
	case v.LobbyErr != "":
		text += "\nLost the lobby (" + v.LobbyErr + "): players already here keep playing; new ones cannot join until it is back."
	case v.Room == "":
		text += "\nOpening a lobby room…"
	default:
		text += fmt.Sprintf("\n%d player(s) connected besides you. Invite others with this link:", v.Clients-1)
	}
	if p := v.Page; p.HiddenTicks > 0 {
		if p.HiddenSkipped > 0 || p.WakerErr != "" {
			text += fmt.Sprintf("\nWhile this tab was hidden the browser throttled it: %d ticks skipped, %d run late (keep it visible).", p.HiddenSkipped, p.HiddenLate)
		} else {
			text += fmt.Sprintf("\nThis tab was hidden for %.0f s; the game kept running (%d ticks).", p.HiddenTime.Seconds(), p.HiddenTicks)
		}
	}
	if a.bannerEl.Get("textContent").String() != text {
		a.bannerEl.Set("textContent", text)
		a.bannerEl.Get("parentElement").Get("style").Set("display", "")
	}
	if a.inviteEl.Truthy() {
		link := ""
		if v.Room != "" {
			loc := js.Global().Get("location")
			link = loc.Get("origin").String() + loc.Get("pathname").String() + "?room=" + v.Room
		}
		if a.inviteEl.Get("textContent").String() != link {
			a.inviteEl.Set("textContent", link)
			a.inviteEl.Set("href", link)
		}
	}
}
