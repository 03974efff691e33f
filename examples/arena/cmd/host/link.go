package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/volleynet/volley/examples/arena/host"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/netcode"
)

// lobbyLink keeps the host's room open in a lobby: it connects (trying each URL in
// turn), creates the room and accepts its members into the game. When the lobby
// instance drains ("draining"), it moves: it opens the room again through another
// instance (the same URL behind a load balancer reaches one) and keeps the old
// connection until the handshakes started through it are over. When the connection
// is lost it reconnects with backoff.
type lobbyLink struct {
	urls   []string
	opts   lobby.RoomOptions
	host   *host.Host
	log    *slog.Logger
	onRoom func(id string) // called with each room opened (may be nil)

	mu   sync.Mutex
	cur  *lobby.Client // the connection of the current room; guarded by mu
	room string        // guarded by mu
	wg   sync.WaitGroup
}

// Room returns the current room's ID, "" while there is none.
func (l *lobbyLink) Room() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.room
}

// run keeps a room open until ctx ends, then waits for every goroutine it started;
// the current connection is left to close (see closeRoom).
func (l *lobbyLink) run(ctx context.Context) {
	defer l.wg.Wait()
	backoff := 250 * time.Millisecond
	next := 0 // the URL to try first
	for ctx.Err() == nil {
		lc, info, i, err := l.open(ctx, next)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			l.log.Warn("no lobby reachable; retrying", "err", err, "in", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 250 * time.Millisecond
		next = i
		l.mu.Lock()
		l.cur, l.room = lc, info.ID
		l.mu.Unlock()
		l.log.Info("arena room open", "room", info.ID, "lobby", l.urls[i])
		if l.onRoom != nil {
			l.onRoom(info.ID)
		}
		draining := l.serve(ctx, lc)
		l.mu.Lock()
		if l.cur == lc && ctx.Err() == nil {
			l.cur, l.room = nil, ""
		}
		l.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if draining {
			l.log.Info("lobby instance draining: moving the room", "old_room", info.ID)
			next = (i + 1) % len(l.urls) // behind a load balancer the same URL reaches another
			continue
		}
		lc.Close()
		l.log.Warn("lost the lobby connection; reconnecting", "err", lc.Err())
	}
}

// open connects to the first reachable lobby from urls[first] on and creates the room.
func (l *lobbyLink) open(ctx context.Context, first int) (*lobby.Client, lobby.RoomInfo, int, error) {
	var errs []error
	for k := range l.urls {
		i := (first + k) % len(l.urls)
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		lc, err := lobby.Dial(dctx, l.urls[i], lobby.ClientConfig{Logger: l.log.With("lobby", l.urls[i])})
		if err == nil {
			var info lobby.RoomInfo
			info, err = lc.Create(dctx, l.opts)
			if err == nil {
				cancel()
				return lc, info, i, nil
			}
			lc.Close()
		}
		cancel()
		errs = append(errs, err)
	}
	return nil, lobby.RoomInfo{}, 0, errors.Join(errs...)
}

// serve accepts members of lc's room into the game until ctx ends, lc ends, or the
// lobby instance drains. On a drain it returns true at once and retires lc in the
// background: no new members from it, and it closes once the handshakes in progress
// through it are over.
func (l *lobbyLink) serve(ctx context.Context, lc *lobby.Client) (draining bool) {
	actx, stopAccepting := context.WithCancel(ctx)
	var handshakes sync.WaitGroup
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			peer, sig, err := lc.AcceptMember(actx)
			if err != nil {
				return
			}
			handshakes.Add(1)
			go func() {
				defer handshakes.Done()
				if err := l.host.Accept(ctx, sig); err != nil {
					level := slog.LevelInfo
					if errors.Is(err, netcode.ErrReplaced) || errors.Is(err, netcode.ErrSignaling) {
						level = slog.LevelDebug
					}
					l.log.Log(ctx, level, "player could not connect", "peer", peer, "err", err)
				}
			}()
		}
	}()
	retire := func() {
		stopAccepting()
		<-accepted
		handshakes.Wait()
	}
	for {
		select {
		case ev, ok := <-lc.Events():
			if !ok {
				retire()
				return false
			}
			if ev.Type != lobby.TypeDraining {
				continue
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				retire()
				lc.Close()
			}()
			return true
		case <-ctx.Done():
			retire()
			return false
		}
	}
}

// closeRoom closes the current room (no new players can join it) and its lobby
// connection. Called once run has returned.
func (l *lobbyLink) closeRoom(ctx context.Context) {
	l.mu.Lock()
	lc := l.cur
	l.cur, l.room = nil, ""
	l.mu.Unlock()
	if lc == nil {
		return
	}
	if err := lc.Leave(ctx); err != nil {
		l.log.Debug("leaving the room", "err", err)
	}
	lc.Close()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
