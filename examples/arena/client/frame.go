package client

import (
	"sort"
	"time"

	"github.com/volleynet/volley/examples/arena/game"
)

// Frame is everything a renderer draws for one frame. The renderer owns nothing: it
// draws the Frame it is given.
type Frame struct {
	// Status says what the client is doing ("connecting to the lobby…", an error);
	// empty while playing.
	Status string
	// Connected is true while the game session is up.
	Connected bool
	// Self is the local player's ID (0 before the host welcomed us).
	Self game.PlayerID
	// Map is the map played on (nil before the session exists).
	Map *game.Map
	// Players are sorted by ID; the local one is drawn at its predicted position.
	Players []PlayerView
	// Projectiles are interpolated between snapshots.
	Projectiles []game.Projectile
	// Feed holds the latest kill-feed lines, newest last.
	Feed []string
	// Net feeds the network panel.
	Net NetStats
}

// PlayerView is one player as drawn.
type PlayerView struct {
	game.Player
	Local bool // the player this client controls
}

// NetStats is the network panel.
type NetStats struct {
	RTT          time.Duration // round trip to the host, smoothed
	Jitter       time.Duration // round-trip variation
	LossDown     float64       // fraction of host→client packets lost
	LossUp       float64       // fraction of client→host packets lost
	SnapshotRate float64       // snapshots received per second
	KbpsDown     float64       // kbit/s received, both channels
	KbpsUp       float64       // kbit/s sent, both channels
	Pending      int           // local inputs not acknowledged by the host yet
	Corrections  int           // mispredictions corrected so far
	// Entities is how many entities this client currently receives: with the
	// host's interest management, those near its player.
	Entities int
	// Link is the connection's state: "connected" or "restarting" (an ICE restart
	// under way).
	Link string
	// Restarts and RestartsFailed count the ICE restarts started and failed,
	// Resumes the resumptions of this session.
	Restarts, RestartsFailed, Resumes uint64
}

// SelfView returns the local player's view, if it is in the frame.
func (f *Frame) SelfView() (PlayerView, bool) {
	for _, p := range f.Players {
		if p.Local {
			return p, true
		}
	}
	return PlayerView{}, false
}

// Scoreboard returns the players ordered by kills (most first), then deaths (fewest
// first), then ID.
func (f *Frame) Scoreboard() []PlayerView {
	out := append([]PlayerView(nil), f.Players...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kills != b.Kills {
			return a.Kills > b.Kills
		}
		if a.Deaths != b.Deaths {
			return a.Deaths < b.Deaths
		}
		return a.ID < b.ID
	})
	return out
}
