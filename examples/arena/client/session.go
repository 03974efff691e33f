// Package client is the arena's client side, shared by the browser client and the
// native bots: it joins a lobby room, connects a netcode.Client to the host, predicts
// the local player's movement (reconciling with the host's last applied input),
// interpolates everyone else, follows names and the kill feed, and assembles a Frame
// for drawing.
package client

import (
	"context"
	"errors"
	"fmt"

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
	// Resume, if set, resumes an earlier session (its ResumeState): the same
	// player comes back with its score. Connect fails with an error for which
	// ResumeRefused is true when the host no longer has it. Default: a new player.
	Resume *netcode.ResumeState
}

// Session is one player's connection to an arena host. It is not safe for concurrent
// use except Done, Err and Close: one goroutine (a frame loop) calls Poll, Input and
// Frame.
type Session struct {
	nc   *netcode.Client
	cfg  Config
	self game.PlayerID
	pred *game.Predictor

	latest *snapshot.World // newest snapshot, for reconciliation
	interp *snapshot.World // interpolated world, for drawing
	view   game.View

	lastTick   uint32 // the tick of the newest snapshot taken in
	haveLatest bool
	lastInput  game.Input
	stamped    uint32 // last tick an input was stamped for
	hasStamp   bool

	names map[game.PlayerID]string
	feed  []string
	frame Frame

	// BadEvents counts events that did not decode.
	BadEvents int
}

// JoinRoom connects to the lobby at url and joins the room with that ID (when roomID
// is empty, the oldest open arena room of this version: game.LobbyGame and
// game.LobbyVersion). It returns the lobby connection, which must stay open
// while signaling is needed, and the signaling path to the room's host.
func JoinRoom(ctx context.Context, url, roomID string, cfg lobby.ClientConfig) (*lobby.Client, *lobby.PeerSignaler, error) {
	lc, err := lobby.Dial(ctx, url, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w at %s: %w", ErrLobbyUnreachable, url, err)
	}
	if roomID != "" {
		_, err = lc.Join(ctx, roomID, "")
	} else {
		_, err = lc.QuickJoinMatching(ctx, lobby.RoomFilter{Game: game.LobbyGame, GameVersion: game.LobbyVersion})
	}
	if err != nil {
		lc.Close()
		return nil, nil, fmt.Errorf("cannot join the arena: %w", err)
	}
	return lc, lc.HostSignaler(), nil
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
	reg := game.NewRegistry()
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
	reg := game.NewRegistry()
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
		pred:   game.NewPredictor(1 / float64(c.TickRate())),
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

// reconcile restarts the prediction from the host's newest state of the local player.
func (s *Session) reconcile() {
	// The applied-input tick and the world come from the same snapshot unless one
	// arrives in between; read until both agree.
	var applied uint32
	var ok bool
	var tick uint32
	for range 3 {
		applied, ok = s.nc.LastAppliedInput()
		var have bool
		if tick, have = s.nc.Latest(s.latest); !have {
			return
		}
		if a2, ok2 := s.nc.LastAppliedInput(); a2 == applied && ok2 == ok {
			break
		}
	}
	if s.haveLatest && int32(tick-s.lastTick) < 0 {
		return
	}
	s.lastTick, s.haveLatest = tick, true
	var e game.PlayerEntity
	if found, err := s.latest.Get(game.PlayerEntityID(s.self), &e); err != nil || !found {
		return
	}
	p := game.PlayerFromEntity(s.self, e)
	if ok {
		p.LastInput = applied + 1
	}
	s.pred.Reconcile(p)
}

// Input sends the local player's buttons and aim for the current input tick and
// predicts their effect at once. Call it every frame: it sends at most one input per
// host tick, and when frames are slower than ticks it predicts the skipped ticks the
// way the host plays them (repeating the previous input).
func (s *Session) Input(buttons uint8, aim float64) error {
	if s.hasStamp && int32(s.nc.InputTick()-s.stamped) <= 0 {
		return nil // this tick's input is already out
	}
	in := game.Input{Buttons: buttons, Aim: game.QuantizeAim(aim)}
	data := game.AppendInput(make([]byte, 0, game.InputSize), in)
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
			s.pred.PredictInput(rep)
		}
	}
	in.Seq = tick + 1
	s.pred.PredictInput(in)
	s.lastInput = in
	s.stamped, s.hasStamp = tick, true
	return nil
}

// SelfPos returns where the local player is drawn (its predicted position).
func (s *Session) SelfPos() game.Vec { return s.pred.Player.Pos }

// SelfAim returns the local player's current aim.
func (s *Session) SelfAim() float64 { return s.lastInput.Aim }

// Predictor returns the local player's predictor (for tests and panels).
func (s *Session) Predictor() *game.Predictor { return s.pred }

// Frame assembles what to draw now: everyone interpolated, the local player predicted.
// frameDt is the time since the previous frame, in seconds. The Frame is reused by
// the next call.
func (s *Session) Frame(frameDt float64) *Frame {
	f := &s.frame
	f.Self = s.self
	f.Status = ""
	f.Players = f.Players[:0]
	f.Projectiles = f.Projectiles[:0]
	f.Feed = append(f.Feed[:0], s.feed...)
	if err := s.nc.Err(); err != nil {
		f.Connected = false
		f.Status = "disconnected: " + err.Error()
	}
	if _, ok := s.nc.Interpolate(s.interp); ok {
		game.ReadView(s.interp, &s.view)
		for _, p := range s.view.Players {
			pv := PlayerView{Player: p}
			pv.Name = s.name(p.ID)
			if p.ID == s.self && s.pred.Synced() {
				pv.Player = s.pred.Player
				pv.Pos = s.pred.RenderPos(frameDt)
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
		Corrections:    s.pred.Corrections,
	}
	return f
}

// Players returns the players of the newest snapshot (not interpolated), with the
// local one predicted; bots think with it.
func (s *Session) Players(dst []game.Player) []game.Player {
	game.ReadView(s.latest, &s.view)
	for _, p := range s.view.Players {
		if p.ID == s.self && s.pred.Synced() {
			p = s.pred.Player
		}
		dst = append(dst, p)
	}
	return dst
}

// Self returns the local player as predicted, and whether the host has placed it yet.
func (s *Session) Self() (game.Player, bool) { return s.pred.Player, s.pred.Synced() }

// LatestTick returns the tick of the newest snapshot the session has taken in.
func (s *Session) LatestTick() uint32 { return s.lastTick }
