package server

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Per-address limits (Config.MaxConnectionsPerIP, the create and join rates, the
// wrong-password backoff). They have their own lock, never the hub's.

// sweepEvery is how often forgotten entries are removed (on the connection path).
const sweepEvery = 30 * time.Second

// addrLimits holds the state of every address with a connection or a recent limit.
type addrLimits struct {
	cfg *Config

	mu        sync.Mutex
	addrs     map[netip.Prefix]*addrState // guarded by mu
	rooms     map[string]*backoff         // wrong passwords per room; guarded by mu
	nextSweep time.Time                   // guarded by mu
}

// addrState is one address's state. conns and pw are guarded by addrLimits.mu; the
// limiters are safe for concurrent use (nil: no limit).
type addrState struct {
	conns   int
	creates *rate.Limiter
	joins   *rate.Limiter
	pw      backoff
}

func newAddrLimits(cfg *Config) *addrLimits {
	return &addrLimits{cfg: cfg, addrs: make(map[netip.Prefix]*addrState), rooms: make(map[string]*backoff)}
}

func newLimiter(perSecond float64, burst int) *rate.Limiter {
	if perSecond < 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), burst)
}

// unlimited is the state of clients the per-address limits do not apply to.
var unlimited = &addrState{}

// acquire counts a new connection from addr; it returns nil when the address has
// MaxConnectionsPerIP connections already.
func (l *addrLimits) acquire(addr netip.Addr, now time.Time) *addrState {
	if addr.IsLoopback() && !l.cfg.LimitLoopback {
		return unlimited
	}
	key := addrKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.After(l.nextSweep) {
		l.sweep(now)
		l.nextSweep = now.Add(sweepEvery)
	}
	a := l.addrs[key]
	if a == nil {
		a = &addrState{
			creates: newLimiter(l.cfg.CreatesPerSecondPerIP, l.cfg.CreateBurstPerIP),
			joins:   newLimiter(l.cfg.JoinsPerSecondPerIP, l.cfg.JoinBurstPerIP),
		}
		l.addrs[key] = a
	}
	if limit := l.cfg.MaxConnectionsPerIP; limit > 0 && a.conns >= limit {
		return nil
	}
	a.conns++
	return a
}

// release undoes acquire. The entry stays until sweep finds it forgotten, so that
// reconnecting does not reset its limits.
func (l *addrLimits) release(a *addrState) {
	if a == unlimited {
		return
	}
	l.mu.Lock()
	a.conns--
	l.mu.Unlock()
}

// sweep drops entries that no longer limit anything. Called with mu held.
func (l *addrLimits) sweep(now time.Time) {
	forget := l.forget()
	full := func(lim *rate.Limiter) bool { return lim == nil || lim.TokensAt(now) >= float64(lim.Burst()) }
	for k, a := range l.addrs {
		if a.conns == 0 && full(a.creates) && full(a.joins) && a.pw.forgotten(now, forget) {
			delete(l.addrs, k)
		}
	}
	for id, b := range l.rooms {
		if b.forgotten(now, forget) {
			delete(l.rooms, id)
		}
	}
}

func (l *addrLimits) forget() time.Duration { return 10 * l.cfg.PasswordBackoffMax }

// passwordWait returns how long a from address a must wait before trying a password
// of room again (0: it may try now).
func (l *addrLimits) passwordWait(a *addrState, room string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	cfg := l.cfg
	var d time.Duration
	if a != unlimited {
		d = a.pw.wait(now, cfg.PasswordFailuresPerIP, cfg.PasswordBackoff, cfg.PasswordBackoffMax)
	}
	if b := l.rooms[room]; b != nil {
		d = max(d, b.wait(now, cfg.PasswordFailuresPerRoom, cfg.PasswordBackoff, cfg.PasswordBackoffMax))
	}
	return d
}

// passwordFailed records a wrong password for room from address a.
func (l *addrLimits) passwordFailed(a *addrState, room string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	forget := l.forget()
	if a != unlimited {
		a.pw.fail(now, forget)
	}
	b := l.rooms[room]
	if b == nil {
		b = new(backoff)
		l.rooms[room] = b
	}
	b.fail(now, forget)
}

// backoff counts failures: after free of them, the next attempt waits base after the
// last failure, doubled with each further failure up to max. A negative free disables
// it.
type backoff struct {
	fails int
	last  time.Time // of the last failure
}

func (b *backoff) wait(now time.Time, free int, base, max time.Duration) time.Duration {
	if free < 0 || b.fails < free {
		return 0
	}
	d := max
	if n := b.fails - free; n < 30 {
		d = min(base<<n, max)
	}
	return b.last.Add(d).Sub(now)
}

func (b *backoff) fail(now time.Time, forget time.Duration) {
	if b.forgotten(now, forget) {
		b.fails = 0
	}
	b.fails++
	b.last = now
}

func (b *backoff) forgotten(now time.Time, forget time.Duration) bool {
	return b.fails == 0 || now.Sub(b.last) > forget
}

// clientAddr returns the address of the client behind r: its remote IP, or, when that
// is a trusted proxy, the rightmost X-Forwarded-For address that is not one.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if len(trusted) == 0 || !isTrusted(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed chain: trust no further
		}
		a = a.Unmap()
		if !isTrusted(a) {
			return a
		}
		addr = a
	}
	return addr
}

// addrKey is the unit the per-address limits count: the address, or its /64 for IPv6.
func addrKey(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}
