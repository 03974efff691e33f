package netcode

import (
	"math"

	"github.com/volleynet/volley/snapshot"
)

// prepareInterest lets ServerConfig.Interest index a send tick's world before its
// snapshots are encoded. It runs on the sending goroutine.
func (s *Server) prepareInterest(slot *sendSlot) {
	in := s.cfg.Interest
	if in == nil {
		return
	}
	for _, list := range slot.due {
		if len(list) > 0 {
			in.Prepare(slot.world, slot.tick)
			return
		}
	}
}

// encodeOptions are this send's interest and byte budget. It runs on the goroutine
// encoding the client's snapshot.
func (sess *session) encodeOptions() snapshot.EncodeOptions {
	var o snapshot.EncodeOptions
	if in := sess.srv.cfg.Interest; in != nil {
		o.Interest = in.Relevance(sess.id)
	}
	if !sess.budget.ready { // a new session, or one resumed on a new connection
		cfg := &sess.srv.cfg
		sess.budget.init(cfg.BytesPerSecond, cfg.SendRate, cfg.AdaptToLoss)
	}
	o.MaxBytes = sess.budget.allow(snapshotHeaderBytes, sess.srv.cfg.MaxPacketsPerSend)
	return o
}

// afterEncode charges tick n's send, just encoded, to the client's budget, counts what
// the budget deferred, and adapts the budget to reported loss.
func (sess *session) afterEncode(tick uint32) {
	b := &sess.budget
	obs := sess.srv.cfg.observeSnapshot
	if b.max == 0 && obs == nil {
		return
	}
	n := 0
	for _, p := range sess.pkts {
		n += snapshotHeaderBytes + len(p)
	}
	if obs != nil {
		obs(sess.id, tick, n, sess.enc.Stats())
	}
	if b.max == 0 {
		return
	}
	b.spend(n)
	if d := sess.enc.Stats().Deferred; d > 0 {
		sess.srv.budgetDeferred.Add(uint64(d))
	}
	c := sess.stats.lossOutCounts.Load()
	b.observeLoss(uint32(c>>32), uint32(c))
}

// ClientBudget returns a client's current snapshot budget in bytes per second:
// ServerConfig.BytesPerSecond, or less while AdaptToLoss holds it down. ok is false
// for an unknown client or when no budget is configured.
func (s *Server) ClientBudget(id ClientID) (bytesPerSec float64, ok bool) {
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess == nil || s.cfg.BytesPerSecond <= 0 {
		return 0, false
	}
	if b := math.Float64frombits(sess.budget.current.Load()); b > 0 {
		return b, true
	}
	return math.Max(float64(s.cfg.BytesPerSecond), float64(minBudgetPerSend*s.cfg.SendRate)), true // before its first send
}
