// Package host runs the arena's authoritative game on a netcode.Server: players join
// and leave with their connections, inputs drive game.Step every tick, and the state
// goes out as snapshots; names and the kill feed travel as reliable events.
//
// The host turns on netcode's toolkit: lag compensation (a history of the players, so
// that shots meet players where their shooter saw them), interest management (each
// client receives the entities within InterestRadius of its player: on the classic
// arena that is everything, on a large map a neighbourhood) and a bandwidth budget per
// client (DefaultBytesPerSecond, LargeMapBytesPerSecond).
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// Toolkit settings the host applies unless Config.Netcode sets its own.
const (
	// InterestRadius is how far from its player a client receives entities: a
	// screen (one classic arena) and a little more. On the classic arena itself a
	// client receives everything.
	InterestRadius = 40.0
	// DefaultBytesPerSecond is each client's snapshot budget on the classic arena:
	// about 1.5 times what a client needs on a full one (`go run ./bench bandwidth`).
	DefaultBytesPerSecond = 16000
	// LargeMapBytesPerSecond is each client's budget on a large map: with interest
	// management a client there needs about 3 KB/s (60 bots on a 4×4 map), and this
	// budget bites when a crowd gathers, the nearest entities going first.
	LargeMapBytesPerSecond = 4000
)

// Config configures a Host. The zero value works.
type Config struct {
	// Netcode is the server configuration; Registry and Step are set by the host.
	// Default: netcode's defaults (60 Hz ticks, 30 Hz snapshots, OS network).
	Netcode netcode.ServerConfig
	// Logger receives join/leave events. Default: discard.
	Logger *slog.Logger
	// History is how many past ticks' summaries At can return (for tests that
	// compare a client's view at some tick with the host's). Default 0: none.
	History int
	// Map is the arena's layout. Default: game.DefaultMap.
	Map *game.Map
}

// Host is a running arena game.
type Host struct {
	srv *netcode.Server
	log *slog.Logger
	dt  float64

	// Owned by the tick goroutine (netcode's Step).
	state       *game.State
	reg         *snapshot.Registry
	past        *netcode.History // this tick's Tick.History (nil: no lag compensation)
	now         uint32           // the tick being stepped
	qbuf        []uint32         // room for a blended player: History.Quantized writes there
	ww          game.WorldWriter
	inputs      map[game.PlayerID]game.Input
	last        map[game.PlayerID]lastInput
	events      []game.Event
	compensated uint32 // shots fired with lag compensation
	changed     bool   // names changed since the last broadcast

	mu      sync.Mutex
	summary Summary   // published copy of the state, guarded by mu
	history []Summary // ring of the last cfg.History summaries, guarded by mu
	update  chan struct{}
}

// lastInput is a player's latest input and the tick it was for.
type lastInput struct {
	in   game.Input
	tick uint32
}

// Summary is a copy of the host's state for tests, stats and tools.
type Summary struct {
	// Tick is the netcode tick the summary is the state after.
	Tick    uint32
	Players []game.Player // sorted by ID
	// Shots counts projectiles fired since the host started.
	Shots uint32
	// Compensated counts the shots fired with lag compensation (the shooter's
	// input said what its screen showed), among those still flying at the end of
	// the tick they were fired in.
	Compensated uint32
	// BadInputs and BadCommands count inputs and commands that did not decode.
	BadInputs, BadCommands int
}

// Player returns the player with that ID in the summary.
func (s Summary) Player(id game.PlayerID) (game.Player, bool) {
	for _, p := range s.Players {
		if p.ID == id {
			return p, true
		}
	}
	return game.Player{}, false
}

// New starts a host; its tick loop runs until Close.
func New(cfg Config) (*Host, error) {
	m := cfg.Map
	if m == nil {
		m = game.DefaultMap
	}
	h := &Host{
		log:    cfg.Logger,
		state:  &game.State{Seed: uint64(time.Now().UnixNano()) | 1, Map: m},
		inputs: map[game.PlayerID]game.Input{},
		last:   map[game.PlayerID]lastInput{},
		update: make(chan struct{}, 1),
	}
	if cfg.History > 0 {
		h.history = make([]Summary, cfg.History)
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.state.PlayerAt = h.playerAt
	h.qbuf = make([]uint32, 0, 16)
	nc := cfg.Netcode
	nc.Registry = game.RegistryFor(m)
	h.reg = nc.Registry
	nc.Step = h.step
	if nc.TickRate <= 0 {
		nc.TickRate = 60
	}
	if !nc.LagCompensation.Enabled {
		nc.LagCompensation = netcode.LagCompensation{Enabled: true, Types: []snapshot.TypeID{game.TypePlayer}}
	}
	if nc.Interest == nil {
		grid, err := netcode.NewGrid(netcode.GridConfig{Radius: math.Max(InterestRadius, m.Diagonal())})
		if m.Tiles > 1 {
			grid, err = netcode.NewGrid(netcode.GridConfig{Radius: InterestRadius})
		}
		if err != nil {
			return nil, fmt.Errorf("arena host: %w", err)
		}
		nc.Interest = grid
	}
	if nc.BytesPerSecond == 0 {
		nc.BytesPerSecond = DefaultBytesPerSecond
		if m.Tiles > 1 {
			nc.BytesPerSecond = LargeMapBytesPerSecond
		}
	}
	h.dt = 1 / float64(nc.TickRate)
	srv, err := netcode.NewServer(nc)
	if err != nil {
		return nil, fmt.Errorf("arena host: %w", err)
	}
	h.srv = srv
	return h, nil
}

// Server returns the netcode server, e.g. for its stats.
func (h *Host) Server() *netcode.Server { return h.srv }

// Accept runs one client's WebRTC handshake over sig and adds it to the game.
func (h *Host) Accept(ctx context.Context, sig signaling.Signaler) error {
	_, err := h.srv.Accept(ctx, sig)
	return err
}

// Close stops the game and disconnects every client.
func (h *Host) Close() error { return h.srv.Close() }

// Summary returns a copy of the state as of the last tick.
func (h *Host) Summary() Summary {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.summary
	s.Players = append([]game.Player(nil), s.Players...)
	return s
}

// At returns the summary of an earlier tick, if Config.History still holds it.
func (h *Host) At(tick uint32) (Summary, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.history) == 0 {
		return Summary{}, false
	}
	e := h.history[tick%uint32(len(h.history))]
	if e.Tick != tick || e.Players == nil {
		return Summary{}, false
	}
	e.Players = append([]game.Player(nil), e.Players...)
	return e, true
}

// Updated is signalled (without blocking) after every tick, for tests that wait for a
// condition on Summary.
func (h *Host) Updated() <-chan struct{} { return h.update }

// step is the game: it runs once per tick on netcode's tick goroutine.
func (h *Host) step(t *netcode.Tick) {
	for _, id := range t.Joined {
		pid := game.PlayerID(id)
		if h.state.AddPlayer(pid, "") == nil {
			h.log.Warn("arena full, player not spawned", "client", id)
			continue
		}
		h.changed = true
		h.log.Info("player joined", "client", id)
	}
	// A suspended player (its connection lost, maybe coming back) stays in the game
	// with its score; without inputs it stands still after MaxInputRepeat ticks.
	for _, id := range t.Suspended {
		h.log.Info("player suspended", "client", id)
	}
	for _, id := range t.Resumed {
		// A resumed client may be a new process (a reloaded page) that lost the
		// name table: send it again.
		h.changed = true
		h.log.Info("player resumed", "client", id)
	}
	for _, l := range t.Left {
		pid := game.PlayerID(l.Client)
		if h.state.RemovePlayer(pid) {
			h.changed = true
		}
		delete(h.last, pid)
		if errors.Is(l.Reason, netcode.ErrClientLeft) {
			h.log.Info("player left", "client", l.Client)
		} else {
			h.log.Info("player dropped", "client", l.Client, "reason", l.Reason)
		}
	}
	badCmds := 0
	for _, c := range t.Commands {
		var cmd game.Command
		if err := c.Decode(&cmd); err != nil {
			h.log.Debug("bad command", "client", c.Client, "err", err)
			badCmds++
			continue
		}
		if p := h.state.Player(game.PlayerID(c.Client)); p != nil && cmd.Name != "" {
			p.Name = game.CleanName(cmd.Name, p.ID)
			h.changed = true
		}
	}
	clear(h.inputs)
	h.past, h.now = t.History, t.N
	bad := 0
	for _, in := range t.Inputs {
		gi, n, err := game.DecodeInput(in.Data)
		if err != nil {
			bad++
			continue
		}
		// An input may carry the tick its player's screen showed: its shots
		// are judged there (lag compensation), at most MaxRewind back.
		if h.past != nil && len(in.Data) >= n+netcode.ViewBytes {
			if view, err := netcode.ReadView(in.Data[n:], t.N); err == nil {
				at, _ := h.past.Clamp(t.N, view)
				gi.Lag = float64(t.N) - at
			}
		}
		// Seq is netcode's "last input tick applied plus one", which clients
		// reconcile against.
		gi.Seq = in.Tick + 1
		pid := game.PlayerID(in.Client)
		h.inputs[pid] = gi
		h.last[pid] = lastInput{in: gi, tick: t.N}
	}
	// A player whose input for this tick is missing (lost, or late) keeps doing
	// what it did for up to MaxInputRepeat ticks, without acknowledging anything
	// new; then it stands still.
	for pid, l := range h.last {
		if _, ok := h.inputs[pid]; ok {
			continue
		}
		if t.N-l.tick > game.MaxInputRepeat {
			delete(h.last, pid)
			continue
		}
		h.inputs[pid] = l.in
	}
	fired := h.state.NextProjectileID
	h.events = game.Step(h.state, h.inputs, h.dt, h.events[:0])
	for i := len(h.state.Projectiles) - 1; i >= 0; i-- {
		pr := &h.state.Projectiles[i]
		if int32(pr.ID-fired) <= 0 {
			break // fired before this tick: new shots are at the end
		}
		if pr.Lag > 0 {
			h.compensated++
		}
	}
	for _, e := range h.events {
		if e.Kind == game.EventKill {
			t.Broadcast(game.Notice{Kill: &game.KillNotice{Attacker: uint32(e.Attacker), Victim: uint32(e.Victim)}})
		}
	}
	if h.changed {
		h.changed = false
		names := make(map[uint32]string, len(h.state.Players))
		for _, p := range h.state.Players {
			names[uint32(p.ID)] = p.Name
		}
		t.Broadcast(game.Notice{Names: names})
	}
	if err := h.ww.Write(h.state, t.World); err != nil {
		h.log.Error("snapshot world", "err", err)
	}

	h.mu.Lock()
	h.summary.Tick = t.N
	h.summary.Shots = h.state.NextProjectileID
	h.summary.Compensated = h.compensated
	h.summary.BadInputs += bad
	h.summary.BadCommands += badCmds
	h.summary.Players = h.summary.Players[:0]
	for _, p := range h.state.Players {
		h.summary.Players = append(h.summary.Players, *p)
	}
	if len(h.history) > 0 {
		e := &h.history[t.N%uint32(len(h.history))]
		e.Tick, e.Shots, e.BadInputs, e.BadCommands = h.summary.Tick, h.summary.Shots, h.summary.BadInputs, h.summary.BadCommands
		e.Players = append(e.Players[:0], h.summary.Players...)
	}
	h.mu.Unlock()
	select {
	case h.update <- struct{}{}:
	default:
	}
}

// playerAt is game.State.PlayerAt: where player id was ticksAgo ticks before the tick
// being stepped, from netcode's history, if it was alive then in its current life.
func (h *Host) playerAt(id game.PlayerID, ticksAgo float64) (game.Vec, bool) {
	cur := h.state.Player(id)
	if h.past == nil || cur == nil {
		return game.Vec{}, false
	}
	_, q, ok := h.past.Quantized(game.PlayerEntityID(id), float64(h.now)-ticksAgo, h.qbuf)
	if !ok {
		return game.Vec{}, false
	}
	pos, alive, spawn, ok := game.PlayerPosFromQuantized(h.reg, q)
	if !ok || !alive || spawn != cur.Spawn&0xff {
		return game.Vec{}, false
	}
	return pos, true
}
