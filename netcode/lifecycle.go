package netcode

import (
	"time"
)

// RestartConfig controls ICE restarts, on the client (ClientConfig.Restart) and on the
// host (ServerConfig.Restart). The zero value works. See "Connection lifecycle" in the
// package doc.
type RestartConfig struct {
	// After is how long ICE may stay disconnected before a restart is started
	// (ICE reports disconnected once nothing has arrived for
	// TransportConfig.ICEDisconnectedTimeout); a failed ICE transport restarts at
	// once. Default 1 s on the client. The host waits twice as long, so that the
	// client, which usually sees the trouble first, normally starts the restart.
	After time.Duration
	// A restart needs the signaling path: once it has closed (the player left
	// the lobby), neither the client nor the host starts one, since applying an
	// offer that reaches nobody would tear down an ICE session that may still
	// recover by itself; the liveness Timeout then judges the connection.
	//
	// Attempts bounds consecutive restart attempts; when the last one fails the
	// client ends with ErrConnectionLost (it may then resume, see
	// ClientConfig.Resume), the host stops offering restarts and relies on its
	// timeout. Default 4; negative disables ICE restarts.
	Attempts int
	// Timeout bounds one attempt, from the restart offer until ICE is connected
	// again. Default 5 s.
	Timeout time.Duration
	// Backoff is the pause before the second attempt, doubling for each further
	// one. Default 500 ms.
	Backoff time.Duration
	// Quiet (client only) is how many of the host's send intervals (1/SendRate)
	// may pass with nothing at all heard from the host (no snapshot, pong or
	// reliable message) before the client starts an ICE restart although ICE
	// still says connected. The host sends a snapshot every interval, so that much
	// silence means the path is dead (a network switch nobody reported), which ICE
	// itself takes ICEDisconnectedTimeout plus After to conclude. The last few
	// intervals are counted on the client's own timer, interval by interval, so a
	// client that was itself stalled does not mistake the stall for silence. The
	// check starts once the first snapshot has arrived. Default 15 (0.5 s at the
	// default 30 Hz; a loss burst of 300 ms does not reach it); negative disables.
	// It assumes a host that runs in real time (not on a stopped test clock).
	Quiet int
}

func (r RestartConfig) withDefaults() RestartConfig {
	if r.After <= 0 {
		r.After = time.Second
	}
	if r.Attempts == 0 {
		r.Attempts = 4
	}
	if r.Timeout <= 0 {
		r.Timeout = defaultRestartTimeout
	}
	if r.Backoff <= 0 {
		r.Backoff = 500 * time.Millisecond
	}
	if r.Quiet == 0 {
		r.Quiet = 15
	}
	return r
}

// enabled reports whether ICE restarts are on.
func (r RestartConfig) enabled() bool { return r.Attempts > 0 }

// backoff is the pause before attempt n (1-based): none before the first.
func (r RestartConfig) backoff(n int) time.Duration {
	if n <= 1 {
		return 0
	}
	return r.Backoff << min(n-2, 16)
}

// LinkState is where a client's connection stands in its lifecycle.
type LinkState uint8

// Link states.
const (
	// LinkConnected: ICE is connected; snapshots and commands flow.
	LinkConnected LinkState = iota
	// LinkRestarting: ICE is disconnected or failed and an ICE restart is under
	// way (or about to start); the data channels and everything queued on them
	// survive it.
	LinkRestarting
	// LinkClosed: the session ended (Client.Err says why). If it ended because
	// the connection was lost, Client.ResumeState may still resume it.
	LinkClosed
)

var linkStateNames = [...]string{"connected", "restarting", "closed"}

// String returns "connected", "restarting" or "closed".
func (s LinkState) String() string {
	if int(s) < len(linkStateNames) {
		return linkStateNames[s]
	}
	return "unknown"
}
