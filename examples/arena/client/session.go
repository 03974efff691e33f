// Package client is the arena's client side, shared by the browser client and the
// native bots: it joins a lobby room (learning the room's map), connects a
// netcode.Client to the host, predicts the local player's movement with a
// netcode.Predictor, interpolates everyone else, stamps its inputs with the tick its
// screen shows (for the host's lag compensation), follows names and the kill feed,
// and assembles a Frame for drawing.
package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// Config configures a Session. The zero value works.
type Config struct {
	// Name is the player's display name. Default: "player<id>", chosen by the host.
	Name string
	// Netcode configures the connection; Registry is set by the session.
	Netcode netcode.ClientConfig
	// FeedLines is how many kill-feed lines a Frame keeps. Default 5.
	FeedLines int
	// Map is the host's map (JoinRoom reads it from the room). Default:
	// game.DefaultMap.
	Map *game.Map
	// Resume, if set, resumes an earlier session (its ResumeState): the same
	// player comes back with its score. Connect fails with an error for which
	// ResumeRefused is true when the host no longer has it. Default: a new player.
	Resume *netcode.ResumeState
}

// Predictor is the local player's predictor: the arena's movement on its map.
type Predictor = netcode.Predictor[game.Player, game.Input, game.Vec]

// NewPredictor returns a predictor of the local player on m for ticks of dt seconds,
// gliding over corrections as game.Correction says.
func NewPredictor(m *game.Map, dt float64) *Predictor {
	return netcode.NewPredictor(netcode.PredictorConfig[game.Player, game.Input, game.Vec]{
		Step:       func(p *game.Player, in game.Input) { m.Move(p, in, dt) },
		Correction: game.Correction,
	})
}

// Session is one player's connection to an arena host. It is not safe for concurrent
// use except Done, Err and Close: one goroutine (a frame loop) calls Poll, Input and
// Frame.
type Session struct {
	nc   *netcode.Client
	cfg  Config
	self game.PlayerID
	m    *game.Map
	pred *Predictor

	latest *snapshot.World // newest snapshot, for reconciliation
	interp *snapshot.World // interpolated world, for drawing
	view   game.View

	lastTick   uint32 // the tick of the newest snapshot taken in
	haveLatest bool
	lastInput  game.Input
	stamped    uint32 // last tick an input was stamped for
	hasStamp   bool
	shown      float64 // the tick the player's screen (or a bot's view) last showed
	hasShown   bool

	names map[game.PlayerID]string
	feed  []string
	frame Frame

	// BadEvents counts events that did not decode.
	BadEvents int
}

// JoinRoom connects to the lobby at url and joins the room with that ID (when roomID
// is empty, the oldest open classic arena room of this version: game.LobbyGame and
// game.LobbyVersion). It returns the lobby connection, which must stay open while
// signaling is needed, the signaling path to the room's host, and the room's map
// (Config.Map), which the room's metadata names.
func JoinRoom(ctx context.Context, url, roomID string, cfg lobby.ClientConfig) (*lobby.Client, *lobby.PeerSignaler, *game.Map, error) {
	lc, err := lobby.Dial(ctx, url, cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w at %s: %w", ErrLobbyUnreachable, url, err)
	}
	var info lobby.RoomInfo
	if roomID != "" {
		info, err = lc.Join(ctx, roomID, "")
	} else {
		info, err = lc.QuickJoinMatching(ctx, lobby.RoomFilter{Game: game.LobbyGame, GameVersion: game.LobbyVersion})
	}
	if err != nil {
		lc.Close()
		return nil, nil, nil, fmt.Errorf("cannot join the arena: %w", err)
	}
	return lc, lc.HostSignaler(), MapFromMetadata(info.Metadata), nil
}

// WithLobbyICE returns cfg with the lobby's STUN/TURN servers added to its ICE
// configuration, unless it already lists servers.
func WithLobbyICE(cfg netcode.ClientConfig, lc *lobby.Client) netcode.ClientConfig {
	if len(cfg.Transport.ICE.Servers) > 0 {
		return cfg
	}
	for _, s := range lc.ICEServers() {
		cfg.Transport.ICE.Servers = append(cfg.Transport.ICE.Servers, webrtc.ICEServer{
			URLs: s.URLs, Username: s.Username, Credential: s.Credential,
		})
	}
	return cfg
}

// Connect connects to the host through sig, sends the player's name and returns the
// session once the host has welcomed it.
func Connect(ctx context.Context, cfg Config, sig signaling.Signaler) (*Session, error) {
	if cfg.Map == nil {
		cfg.Map = game.DefaultMap
	}
	reg := game.RegistryFor(cfg.Map)
	nc := cfg.Netcode
	nc.Registry = reg
	nc.Resume = cfg.Resume
	c, err := netcode.Dial(ctx, nc, sig)
	if err != nil {
		return nil, err
	}
	return newSession(c, reg, cfg)
}

// ConnectLocal joins a host running in this process (a player hosting from its
// browser tab) through netcode.DialLocal: no network, the same protocol. It sends the
// player's name and returns the session once the host has welcomed it.
func ConnectLocal(ctx context.Context, cfg Config, srv *netcode.Server) (*Session, error) {
	if cfg.Map == nil {
		cfg.Map = game.DefaultMap
	}
	reg := game.RegistryFor(cfg.Map)
	nc := cfg.Netcode
	nc.Registry = reg
	c, err := netcode.DialLocal(ctx, nc, srv)
	if err != nil {
		return nil, err
	}
	return newSession(c, reg, cfg)
}

func newSession(c *netcode.Client, reg *snapshot.Registry, cfg Config) (*Session, error) {
	if cfg.FeedLines <= 0 {
		cfg.FeedLines = 5
	}
	s := &Session{
		nc:     c,
		cfg:    cfg,
		self:   game.PlayerID(c.ID()),
		m:      cfg.Map,
		pred:   NewPredictor(cfg.Map, 1/float64(c.TickRate())),
		latest: snapshot.NewWorld(reg),
		interp: snapshot.NewWorld(reg),
		names:  map[game.PlayerID]string{},
	}
	if cfg.Name != "" {
		if err := c.Send(game.Command{Name: cfg.Name}); err != nil {
			c.Close()
			return nil, err
		}
	}
	return s, nil
}

// ID returns the local player's ID.
func (s *Session) ID() game.PlayerID { return s.self }

// Map returns the map the session plays on.
func (s *Session) Map() *game.Map { return s.m }

// ResumeState returns what resumes this session on a new connection (Config.Resume),
// or nil when it cannot be resumed; see netcode.Client.ResumeState.
func (s *Session) ResumeState() *netcode.ResumeState { return s.nc.ResumeState() }

// ResumeRefused reports whether err is the host's refusal of a resumption (the player
// was gone for too long, or the state was used already): connect afresh.
func ResumeRefused(err error) bool {
	return errors.Is(err, netcode.ErrResumeExpired) || errors.Is(err, netcode.ErrResumeInvalid) ||
		errors.Is(err, netcode.ErrResumeReplayed) || errors.Is(err, netcode.ErrResumeOverflow)
}

// Netcode returns the underlying connection (for its statistics).
func (s *Session) Netcode() *netcode.Client { return s.nc }

// Done is closed when the session has ended; Err then says why.
func (s *Session) Done() <-chan struct{} { return s.nc.Done() }

// Err returns why the session ended, or nil while it runs.
func (s *Session) Err() error { return s.nc.Err() }

// Close says goodbye to the host and releases the connection.
func (s *Session) Close() error { return s.nc.Close() }

// Poll takes in what arrived since the last call, without blocking: events (names,
// kills) and the newest snapshot, against which the local prediction is reconciled.
func (s *Session) Poll() {
	for {
		select {
		case ev := <-s.nc.Events():
			var n game.Notice
			if err := ev.Decode(&n); err != nil {
				s.BadEvents++
				continue
			}
			s.notice(n)
			continue
		default:
		}
		break
	}
	select {
	case <-s.nc.Updates():
	default:
		if s.pred.Synced() {
			return // nothing new
		}
	}
	s.reconcile()
}

func (s *Session) notice(n game.Notice) {
	if n.Names != nil {
		clear(s.names)
		for id, name := range n.Names {
			s.names[game.PlayerID(id)] = name
		}
	}
	if k := n.Kill; k != nil {
		line := fmt.Sprintf("%s ✕ %s", s.name(game.PlayerID(k.Attacker)), s.name(game.PlayerID(k.Victim)))
		s.feed = append(s.feed, line)
		if len(s.feed) > s.cfg.FeedLines {
			s.feed = s.feed[len(s.feed)-s.cfg.FeedLines:]
		}
	}
}

func (s *Session) name(id game.PlayerID) string {
	if n, ok := s.names[id]; ok {
		return n
	}
	return fmt.Sprintf("player%d", id)
}

// reconcile restarts the prediction from the host's newest state of the local player:
// the state after the snapshot's tick, which includes every input the host applied
// up to that tick.
func (s *Session) reconcile() {
	tick, have := s.nc.Latest(s.latest)
	if !have || (s.haveLatest && int32(tick-s.lastTick) < 0) {
		return
	}
	s.lastTick, s.haveLatest = tick, true
	if p, found := game.PlayerFromWorld(s.latest, s.self); found {
		s.pred.Reconcile(p, tick)
	}
}

// Input sends the local player's buttons and aim for the current input tick and
// predicts their effect at once. Call it every frame: it sends at most one input per
// host tick, and when frames are slower than ticks it predicts the skipped ticks the
// way the host plays them (repeating the previous input). The input carries the tick
// the player's screen last showed (Frame, or Players for a bot), so that the host
// judges its shots against what the player saw.
func (s *Session) Input(buttons uint8, aim float64) error {
	if s.hasStamp && int32(s.nc.InputTick()-s.stamped) <= 0 {
		return nil // this tick's input is already out
	}
	in := game.Input{Buttons: buttons, Aim: game.QuantizeAim(aim)}
	data := game.AppendInput(make([]byte, 0, game.InputSize+netcode.ViewBytes), in)
	if s.hasShown {
		data = netcode.AppendView(data, s.shown)
	}
	tick, err := s.nc.SendInput(data)
	if err != nil {
		return err
	}
	if s.hasStamp && int32(tick-s.stamped) > 1 {
		// Ticks without an input: the host repeats the previous one for at most
		// MaxInputRepeat ticks, then the player stands still. Predict the same.
		for k := s.stamped + 1; k != tick && k-s.stamped <= game.MaxInputRepeat; k++ {
			rep := s.lastInput
			rep.Seq = k + 1
			s.pred.Input(k, rep)
		}
	}
	in.Seq = tick + 1
	s.pred.Input(tick, in)
	s.lastInput = in
	s.stamped, s.hasStamp = tick, true
	return nil
}

// SelfPos returns where the local player is (its predicted position).
func (s *Session) SelfPos() game.Vec { return s.pred.State().Pos }

// SelfAim returns the local player's current aim.
func (s *Session) SelfAim() float64 { return s.lastInput.Aim }

// Predictor returns the local player's predictor (for tests and panels).
func (s *Session) Predictor() *Predictor { return s.pred }

// Frame assembles what to draw now: everyone interpolated, the local player predicted.
// frameDt is the time since the previous frame, in seconds. The Frame is reused by
// the next call.
func (s *Session) Frame(frameDt float64) *Frame {
	f := &s.frame
	f.Self = s.self
	f.Map = s.m
	f.Status = ""
	f.Players = f.Players[:0]
	f.Projectiles = f.Projectiles[:0]
	f.Feed = append(f.Feed[:0], s.feed...)
	if err := s.nc.Err(); err != nil {
		f.Connected = false
		f.Status = "disconnected: " + err.Error()
	}
	if shown, ok := s.nc.Interpolate(s.interp); ok {
		s.shown, s.hasShown = shown, true
		game.ReadView(s.interp, &s.view)
		for _, p := range s.view.Players {
			pv := PlayerView{Player: p}
			pv.Name = s.name(p.ID)
			if p.ID == s.self && s.pred.Synced() {
				pv.Player = *s.pred.State()
				pv.Pos = pv.Player.Pos.Add(s.pred.Offset(time.Duration(frameDt * float64(time.Second))))
				pv.Name = s.name(p.ID)
				pv.Local = true
				// Scores are not predicted: take the host's.
				pv.Kills, pv.Deaths = p.Kills, p.Deaths
			}
			f.Players = append(f.Players, pv)
		}
		f.Projectiles = append(f.Projectiles, s.view.Projectiles...)
	}
	f.Connected = s.nc.Err() == nil && s.pred.Synced()
	if !f.Connected && f.Status == "" {
		f.Status = "waiting for the first snapshot…"
	}
	st := s.nc.Stats()
	if s.nc.State() == netcode.LinkRestarting && f.Status == "" {
		f.Status = "connection interrupted: restarting ICE…"
	}
	f.Net = NetStats{
		Link:           s.nc.State().String(),
		Restarts:       st.Restarts,
		RestartsFailed: st.RestartsFailed,
		Resumes:        st.Resumes,
		RTT:            st.RTT,
		Jitter:         st.Jitter,
		LossDown:       st.LossIn,
		LossUp:         st.LossOut,
		SnapshotRate:   st.SnapshotsPerSec,
		KbpsDown:       st.BytesInPerSec * 8 / 1000,
		KbpsUp:         st.BytesOutPerSec * 8 / 1000,
		Pending:        s.pred.Pending(),
		Corrections:    s.pred.Corrections(),
		Entities:       s.latest.Len(),
	}
	return f
}

// Players returns the players of the newest snapshot (not interpolated), with the
// local one predicted; bots think with it, so it counts as what the bot's screen
// shows (its next input is stamped with the snapshot's tick).
func (s *Session) Players(dst []game.Player) []game.Player {
	if s.haveLatest {
		s.shown, s.hasShown = float64(s.lastTick), true
	}
	game.ReadView(s.latest, &s.view)
	for _, p := range s.view.Players {
		if p.ID == s.self && s.pred.Synced() {
			p = *s.pred.State()
		}
		dst = append(dst, p)
	}
	return dst
}

// Self returns the local player as predicted, and whether the host has placed it yet.
func (s *Session) Self() (game.Player, bool) { return *s.pred.State(), s.pred.Synced() }

// LatestTick returns the tick of the newest snapshot the session has taken in.
func (s *Session) LatestTick() uint32 { return s.lastTick }
