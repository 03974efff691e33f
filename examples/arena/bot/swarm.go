package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
)

// Play connects one bot through sig and plays on the classic arena until ctx ends or
// the connection does (a swarm learns its room's map from the lobby). Each bot is a real netcode client with its own WebRTC
// connection. The returned error is nil when ctx ended.
func Play(ctx context.Context, sig signaling.Signaler, name string, seed uint64, cfg netcode.ClientConfig, st *Stats) error {
	_, err := play(ctx, sig, client.Config{Name: name, Netcode: cfg}, seed, st)
	return err
}

// play plays one session (a resumption if cfg.Resume is set) and returns, when its
// connection was lost, the state that resumes it.
func play(ctx context.Context, sig signaling.Signaler, cfg client.Config, seed uint64, st *Stats) (*netcode.ResumeState, error) {
	sess, err := client.Connect(ctx, cfg, sig)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	if st != nil {
		st.connected.Add(1)
		defer st.connected.Add(-1)
		st.mu.Lock()
		st.sessions[sess] = true
		st.mu.Unlock()
		defer func() {
			st.mu.Lock()
			st.retire(sess)
			st.mu.Unlock()
		}()
	}
	brain := NewBrain(seed)
	brain.Map = sess.Map()
	dt := 1 / float64(sess.Netcode().TickRate())
	tick := time.NewTicker(time.Duration(float64(time.Second) * dt))
	defer tick.Stop()
	var players []game.Player
	var kills, deaths int
	for {
		select {
		case <-ctx.Done():
			return nil, nil
		case <-sess.Done():
			return sess.ResumeState(), sess.Err()
		case <-tick.C:
		}
		sess.Poll()
		self, ok := sess.Self()
		if !ok {
			continue
		}
		if st != nil && (self.Kills != kills || self.Deaths != deaths) {
			st.kills.Add(int64(self.Kills - kills))
			st.deaths.Add(int64(self.Deaths - deaths))
			kills, deaths = self.Kills, self.Deaths
		}
		players = sess.Players(players[:0])
		buttons, aim := brain.Think(self, players, dt)
		if err := sess.Input(buttons, aim); err != nil {
			return sess.ResumeState(), err
		}
	}
}

// Stats aggregates a group of bots' connections. Safe for concurrent use.
type Stats struct {
	connected  atomic.Int64
	kills      atomic.Int64
	deaths     atomic.Int64
	attempts   atomic.Uint64
	failures   atomic.Uint64
	lastErrMu  sync.Mutex
	lastErr    error
	mu         sync.Mutex
	sessions   map[*client.Session]bool // live sessions, guarded by mu
	retiredIn  uint64                   // bytes of ended sessions, guarded by mu
	retiredOut uint64
}

// NewStats returns empty Stats.
func NewStats() *Stats { return &Stats{sessions: map[*client.Session]bool{}} }

func (st *Stats) retire(s *client.Session) {
	ns := s.Netcode().Stats()
	st.retiredIn += ns.BytesIn
	st.retiredOut += ns.BytesOut
	delete(st.sessions, s)
}

func (st *Stats) fail(err error) {
	st.failures.Add(1)
	st.lastErrMu.Lock()
	st.lastErr = err
	st.lastErrMu.Unlock()
}

// Summary is a snapshot of Stats.
type Summary struct {
	Connected         int           // bots in a game now
	Attempts          uint64        // connection attempts
	Failures          uint64        // attempts that failed or sessions that ended with an error
	LastError         error         // the latest failure's error, nil without any
	MeanRTT           time.Duration // round trip, averaged over connected bots
	MaxRTT            time.Duration // the largest round trip of a connected bot
	MeanLossIn        float64       // fraction of snapshots lost, averaged over connected bots
	SnapshotsPerSec   float64       // summed over bots
	KbpsIn, KbpsOut   float64       // summed over bots
	Kills, Deaths     int           // scored by the bots since they started
	BytesIn, BytesOut uint64        // data channel totals of every session, ended ones included
}

// Summary returns the current aggregate.
func (st *Stats) Summary() Summary {
	var s Summary
	s.Connected = int(st.connected.Load())
	s.Attempts = st.attempts.Load()
	s.Kills, s.Deaths = int(st.kills.Load()), int(st.deaths.Load())
	s.Failures = st.failures.Load()
	st.lastErrMu.Lock()
	s.LastError = st.lastErr
	st.lastErrMu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	s.BytesIn, s.BytesOut = st.retiredIn, st.retiredOut
	n := 0
	for sess := range st.sessions {
		ns := sess.Netcode().Stats()
		n++
		s.MeanRTT += ns.RTT
		s.MaxRTT = max(s.MaxRTT, ns.RTT)
		s.MeanLossIn += ns.LossIn
		s.SnapshotsPerSec += ns.SnapshotsPerSec
		s.KbpsIn += ns.BytesInPerSec * 8 / 1000
		s.KbpsOut += ns.BytesOutPerSec * 8 / 1000
		s.BytesIn += ns.BytesIn
		s.BytesOut += ns.BytesOut
	}
	if n > 0 {
		s.MeanRTT /= time.Duration(n)
		s.MeanLossIn /= float64(n)
	}
	return s
}

// String formats a summary as one log line.
func (s Summary) String() string {
	line := fmt.Sprintf("bots %d connected (%d attempts, %d failures), %d kills %d deaths, rtt mean %d ms max %d ms, loss in %.1f%%, snapshots %.0f/s, %.0f kbit/s down %.0f kbit/s up",
		s.Connected, s.Attempts, s.Failures, s.Kills, s.Deaths, s.MeanRTT.Milliseconds(), s.MaxRTT.Milliseconds(),
		s.MeanLossIn*100, s.SnapshotsPerSec, s.KbpsIn, s.KbpsOut)
	if s.LastError != nil {
		line += fmt.Sprintf(" (last error: %v)", s.LastError)
	}
	return line
}

// SwarmConfig configures a Swarm.
type SwarmConfig struct {
	// N is the number of bots.
	N int
	// LobbyURL is the lobby's WebSocket URL. Required.
	LobbyURL string
	// RoomID is the room to join; empty quick-joins any open arena room (client.JoinRoom).
	RoomID string
	// NamePrefix prefixes the bots' names. Default "bot".
	NamePrefix string
	// Seed makes the bots' choices reproducible. Default 1.
	Seed uint64
	// Client configures each bot's netcode connection.
	Client netcode.ClientConfig
	// Lobby configures each bot's lobby connection.
	Lobby lobby.ClientConfig
	// Logger receives connection problems. Default: discard.
	Logger *slog.Logger
}

// Swarm is a group of bots that join a lobby room and keep playing: a bot whose
// network changes or blips keeps its connection through ICE restarts; one whose
// connection is lost resumes its session (same player, same score) while the host
// keeps it, or reconnects as a new player (with backoff).
type Swarm struct {
	stats *Stats
	wg    sync.WaitGroup
}

// StartSwarm starts cfg.N bots; they play until ctx ends.
func StartSwarm(ctx context.Context, cfg SwarmConfig) *Swarm {
	if cfg.NamePrefix == "" {
		cfg.NamePrefix = "bot"
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	sw := &Swarm{stats: NewStats()}
	for i := range cfg.N {
		sw.wg.Add(1)
		go func() {
			defer sw.wg.Done()
			sw.run(ctx, cfg, i)
		}()
	}
	return sw
}

// Stats returns the swarm's statistics.
func (sw *Swarm) Stats() *Stats { return sw.stats }

// Wait waits for every bot to stop (after the context passed to StartSwarm ends).
func (sw *Swarm) Wait() { sw.wg.Wait() }

func (sw *Swarm) run(ctx context.Context, cfg SwarmConfig, i int) {
	name := fmt.Sprintf("%s%d", cfg.NamePrefix, i+1)
	log := cfg.Logger.With("bot", name)
	backoff := 500 * time.Millisecond
	var resume *netcode.ResumeState
	for ctx.Err() == nil {
		sw.stats.attempts.Add(1)
		var err error
		resume, err = sw.once(ctx, cfg, name, cfg.Seed*1000+uint64(i), resume)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("session ended")
		}
		sw.stats.fail(err)
		if why, ok := client.Refusal(err); ok {
			log.Warn("bot refused by the host; retrying", "why", why, "err", err, "in", backoff)
		} else {
			log.Warn("bot disconnected; retrying", "err", err, "in", backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// once plays one session: a resumption of resume when set (a new player if the host
// refuses it). It returns the state that resumes the session when its connection was
// lost.
func (sw *Swarm) once(ctx context.Context, cfg SwarmConfig, name string, seed uint64, resume *netcode.ResumeState) (*netcode.ResumeState, error) {
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	lc, sig, m, err := client.JoinRoom(dialCtx, cfg.LobbyURL, cfg.RoomID, cfg.Lobby)
	cancel()
	if err != nil {
		return resume, err
	}
	defer lc.Close()
	ccfg := client.Config{Name: name, Netcode: client.WithLobbyICE(cfg.Client, lc), Resume: resume, Map: m}
	next, err := play(ctx, sig, ccfg, seed, sw.stats)
	if resume != nil && client.ResumeRefused(err) {
		ccfg.Resume = nil
		next, err = play(ctx, sig, ccfg, seed, sw.stats)
	}
	return next, err
}
