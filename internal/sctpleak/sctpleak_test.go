package sctpleak

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/sctp"
	"go.uber.org/goleak"
)

// SCTP chunk types that end a handshake (RFC 9260 section 3.2).
const (
	chunkCookieEcho = 10
	chunkCookieAck  = 11
)

// hasCookieChunk reports whether the SCTP packet carries a COOKIE ECHO or COOKIE ACK
// chunk: after reading either, a handshaking association completes its handshake.
func hasCookieChunk(pkt []byte) bool {
	const commonHeader = 12
	for off := commonHeader; off+4 <= len(pkt); {
		if t := pkt[off]; t == chunkCookieEcho || t == chunkCookieAck {
			return true
		}
		n := int(binary.BigEndian.Uint16(pkt[off+2:]))
		if n < 4 {
			return false
		}
		off += (n + 3) &^ 3
	}
	return false
}

// TestFailedHandshakeLateAnswer: a peer holds back its SCTP answer until our
// client's handshake has failed (the T1-init timer gives up; netcode caps the RTO at
// 150 ms, as here), then lets it through. Unpatched pion/sctp returns the error
// without closing the association, its read loop then completes the handshake on
// the late answer and blocks forever on a channel nobody reads, so its goroutines
// outlive even the closing of its conn. The patch closes the association on that
// error path.
func TestFailedHandshakeLateAnswer(t *testing.T) {
	before := goleak.IgnoreCurrent()

	quiet := logging.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = logging.LogLevelDisabled

	connA, relayA := net.Pipe() // the association under test, A
	connB, relayB := net.Pipe() // its peer, B

	released := make(chan struct{}) // closed once A's handshake has failed
	answered := make(chan struct{}) // closed once A has read a COOKIE ECHO or ACK
	aGone := make(chan struct{})    // closed once A's conn has closed
	fromB := make(chan []byte)      // packets B sent towards A
	var relays sync.WaitGroup
	teardown := func() {
		for _, c := range []net.Conn{connA, connB, relayA, relayB} {
			_ = c.Close()
		}
		relays.Wait()
	}
	defer teardown() // on a t.Fatal path; closing twice is harmless
	relays.Add(3)
	// A to B: always through. Its read ends when A's conn closes.
	go func() {
		defer relays.Done()
		defer close(aGone)
		buf := make([]byte, 1<<16)
		for {
			n, err := relayA.Read(buf)
			if err != nil {
				return
			}
			if _, err := relayB.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	go func() {
		defer relays.Done()
		defer close(fromB)
		buf := make([]byte, 1<<16)
		for {
			n, err := relayB.Read(buf)
			if err != nil {
				return
			}
			fromB <- append([]byte(nil), buf[:n]...)
		}
	}()
	// B to A: held back until A's handshake has failed, then delivered in order.
	go func() {
		defer relays.Done()
		var held [][]byte
		deliver := func(pkt []byte) {
			if _, err := relayA.Write(pkt); err != nil {
				return // A closed its conn: the patched behaviour
			}
			if hasCookieChunk(pkt) {
				select {
				case <-answered:
				default:
					close(answered)
				}
			}
		}
		open := released
		for {
			select {
			case pkt, ok := <-fromB:
				if !ok {
					return
				}
				if open != nil {
					held = append(held, pkt)
				} else {
					deliver(pkt)
				}
			case <-open:
				open = nil
				for _, pkt := range held {
					deliver(pkt)
				}
				held = nil
			}
		}
	}()

	// B keeps the default RTO cap, so it is still retransmitting when A gives up.
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	type result struct {
		assoc *sctp.Association
		err   error
	}
	doneB := make(chan result, 1)
	go func() {
		a, err := sctp.ClientContext(ctxB, sctp.WithNetConn(connB), sctp.WithName("B"),
			sctp.WithLoggerFactory(quiet))
		doneB <- result{a, err}
	}()

	// A's context outlasts its handshake timer by far: the error must come from the
	// T1-init timer, not from the context (whose path always closed the association).
	ctxA, cancelA := context.WithTimeout(context.Background(), time.Minute)
	defer cancelA()
	assocA, err := sctp.ClientContext(ctxA, sctp.WithNetConn(connA), sctp.WithName("A"),
		sctp.WithRTOMax(150), sctp.WithLoggerFactory(quiet))
	if !errors.Is(err, sctp.ErrHandshakeInitAck) {
		if assocA != nil {
			_ = assocA.Close()
		}
		t.Fatalf("A's handshake with B's answers held back: got %v, want %v", err, sctp.ErrHandshakeInitAck)
	}
	close(released)

	// Unpatched, A reads a late COOKIE ECHO or ACK and blocks for good; patched, A
	// closes its conn. Either ends this wait; closing connA before A has read the
	// answer would let the unpatched read loop exit and hide the leak.
	select {
	case <-answered:
		t.Log("A read a late COOKIE ECHO or ACK")
	case <-aGone:
		t.Log("A closed its conn after its handshake failed")
	case <-time.After(30 * time.Second):
		t.Fatal("after A's handshake failed: neither a late COOKIE ECHO/ACK reached A nor did A close its conn within 30 s")
	}

	// Tear down what the test owns: A's conn (as the PeerConnection's DTLS transport
	// would), B, and the relay.
	_ = connA.Close()
	cancelB()
	if r := <-doneB; r.assoc != nil {
		_ = r.assoc.Close()
	}
	teardown()

	// No event tells when the closed associations' goroutines have ended: poll
	// (each goleak.Find retries for about half a second) up to a generous deadline.
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := goleak.Find(before)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after A's failed handshake, the late answer and closing A's conn and B: goroutines left for 15 s (A's association leaked): %v", err)
		}
	}
}

// TestHandshakeOutlastsShortRTOMax: with the RTO capped at 150 ms for data (as
// netcode sets it), the handshake still survives 3 s of silence. Upstream caps the
// handshake's timers with the same RTOMax, so it gave up after about 1.5 s: a
// stalled machine or a short outage while connecting ended the connection. The
// patch lets those timers back off to 1 s.
func TestHandshakeOutlastsShortRTOMax(t *testing.T) {
	quiet := logging.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = logging.LogLevelDisabled
	connA, relayA := net.Pipe()
	connB, relayB := net.Pipe()
	silentUntil := time.Now().Add(3 * time.Second)
	var relays sync.WaitGroup
	pipe := func(from, to net.Conn) {
		defer relays.Done()
		buf := make([]byte, 1<<16)
		for {
			n, err := from.Read(buf)
			if err != nil {
				return
			}
			if time.Now().Before(silentUntil) {
				continue // the outage: dropped
			}
			if _, err := to.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	relays.Add(2)
	go pipe(relayA, relayB)
	go pipe(relayB, relayA)
	defer func() {
		for _, c := range []net.Conn{connA, connB, relayA, relayB} {
			_ = c.Close()
		}
		relays.Wait()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type result struct {
		assoc *sctp.Association
		err   error
	}
	done := make(chan result, 2)
	for _, c := range []struct {
		name string
		conn net.Conn
	}{{"A", connA}, {"B", connB}} {
		go func() {
			a, err := sctp.ClientContext(ctx, sctp.WithNetConn(c.conn), sctp.WithName(c.name),
				sctp.WithRTOMax(150), sctp.WithLoggerFactory(quiet))
			done <- result{a, err}
		}()
	}
	for range 2 {
		r := <-done
		if r.err != nil {
			t.Errorf("handshake across a 3 s outage with RTOMax 150 ms: %v", r.err)
			continue
		}
		defer r.assoc.Close()
	}
}

// delayedPipe joins a and b through a link that delivers every packet delay after it
// was sent, in order, and counts the bytes carried from a to b once counting is on.
type delayedPipe struct {
	counting  atomic.Bool
	aToBBytes atomic.Int64
	wg        sync.WaitGroup
	conns     []net.Conn
}

func newDelayedPipe(delay time.Duration) (a, b net.Conn, p *delayedPipe) {
	return newLossyPipe(delay, 0)
}

// newLossyPipe is newDelayedPipe that also drops each packet with probability loss
// (seeded, so every run loses the same packets).
func newLossyPipe(delay time.Duration, loss float64) (a, b net.Conn, p *delayedPipe) {
	a, relayA := net.Pipe()
	b, relayB := net.Pipe()
	p = &delayedPipe{conns: []net.Conn{a, b, relayA, relayB}}
	type packet struct {
		due  time.Time
		data []byte
	}
	link := func(from, to net.Conn, count bool, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 0))
		queue := make(chan packet, 1<<14)
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			defer close(queue)
			buf := make([]byte, 1<<16)
			for {
				n, err := from.Read(buf)
				if err != nil {
					return
				}
				if count && p.counting.Load() {
					p.aToBBytes.Add(int64(n))
				}
				if rng.Float64() < loss {
					continue
				}
				queue <- packet{time.Now().Add(delay), append([]byte(nil), buf[:n]...)}
			}
		}()
		go func() {
			defer p.wg.Done()
			timer := time.NewTimer(0)
			defer timer.Stop()
			for pkt := range queue {
				timer.Reset(time.Until(pkt.due)) // the link's delay, not a wait for an event
				<-timer.C
				if _, err := to.Write(pkt.data); err != nil {
					for range queue { // drain so the reader can end
					}
					return
				}
			}
		}()
	}
	link(relayA, relayB, true, 1)
	link(relayB, relayA, false, 2)
	return a, b, p
}

func (p *delayedPipe) close() {
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.wg.Wait()
}

// connectPair runs the handshake of two associations over a and b, both with RTOMax
// 150 ms as netcode sets it, and closes them when the test ends.
func connectPair(t *testing.T, ctx context.Context, a, b net.Conn) [2]*sctp.Association {
	t.Helper()
	quiet := logging.NewDefaultLoggerFactory()
	quiet.DefaultLogLevel = logging.LogLevelDisabled
	type result struct {
		assoc *sctp.Association
		err   error
	}
	results := make([]chan result, 2)
	for i, conn := range []net.Conn{a, b} {
		results[i] = make(chan result, 1)
		go func() {
			a, err := sctp.ClientContext(ctx, sctp.WithNetConn(conn), sctp.WithName(string(rune('A'+i))),
				sctp.WithRTOMax(150), sctp.WithLoggerFactory(quiet))
			results[i] <- result{a, err}
		}()
	}
	var assocs [2]*sctp.Association
	var errs []error
	for i := range results {
		r := <-results[i]
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		assocs[i] = r.assoc
		t.Cleanup(func() { _ = r.assoc.Close() })
	}
	if len(errs) > 0 {
		t.Fatalf("handshake: %v", errors.Join(errs...))
	}
	return assocs
}

// TestDataRTOFollowsLongRoundTrip: with RTOMax 150 ms (as netcode sets it) on a
// link with a 2 s round trip, reliable messages are sent about once each. Upstream
// caps the RTO at RTOMax even far below the round trip, so every chunk was resent
// every 150 ms until its SACK came back (about 13 times), and, since Karn's rule
// takes no RTT sample from a resent chunk, the RTO never learned better: on a lossy
// link the association collapsed under its own retransmissions. The patch lets
// the RTO follow the measured round trip (probed with a HEARTBEAT on each T3
// timeout) and cap only the backoff beyond it at RTOMax.
func TestDataRTOFollowsLongRoundTrip(t *testing.T) {
	const (
		messages = 240 // 8 s of commands
		counted  = 120 // the last 4 s: the first round trips teach the RTO
		size     = 40
	)
	connA, connB, link := newDelayedPipe(time.Second)
	defer link.close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	assocs := connectPair(t, ctx, connA, connB)

	out, err := assocs[0].OpenStream(1, sctp.PayloadTypeWebRTCBinary)
	if err != nil {
		t.Fatal(err)
	}
	received := make(chan error, 1)
	go func() {
		in, err := assocs[1].AcceptStream()
		if err != nil {
			received <- err
			return
		}
		buf := make([]byte, 1024)
		for i := range messages {
			n, err := in.Read(buf)
			if err != nil {
				received <- fmt.Errorf("message %d: %w", i, err)
				return
			}
			if n != size || buf[0] != byte(i) {
				received <- fmt.Errorf("message %d: got %d bytes starting %d", i, n, buf[0])
				return
			}
		}
		received <- nil
	}()
	pace := time.NewTicker(time.Second / 30) // a game's command rate
	defer pace.Stop()
	msg := make([]byte, size)
	for i := range messages {
		if i == messages-counted {
			link.counting.Store(true)
		}
		msg[0] = byte(i)
		if _, err := out.Write(msg); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		<-pace.C
	}
	select {
	case err := <-received:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("the messages never all arrived")
	}

	// Each message once is about 68 bytes on the wire (common header, DATA chunk
	// header, payload) when none are bundled.
	sent := link.aToBBytes.Load()
	limit := int64(3 * counted * (12 + 16 + size))
	t.Logf("the last %d messages of %d B: %d B on the wire (limit %d); srtt %.0f ms", counted, size, sent, limit, assocs[0].SRTT())
	if sent > limit {
		t.Errorf("%d B carried for %d B of messages over a 2 s round trip, want at most %d: chunks resent before their SACKs could return",
			sent, counted*size, limit)
	}
}

// TestLossyLongRoundTrip: at 25% loss both ways and a 2 s round trip (RTOMax 150 ms,
// as netcode sets it), a game's traffic (a reliable ordered stream of commands and
// an unordered, never retransmitted stream of updates, 20 of each per second) keeps
// flowing: every command arrives, in order, and what the unreliable stream holds
// unacknowledged stays bounded. Upstream, the unreliable stream's lost chunks,
// abandoned but only forwarded (FORWARD-TSN) up to the next chunk the peer had
// received, one hole per round trip, filled the congestion window, and a lost
// retransmission of a command waited for a T3 timer that every advance of the
// cumulative ack restarted: the streams stalled and the buffered amount grew
// without end. The patch forwards over chunks already acknowledged and lets RACK
// judge retransmissions.
func TestLossyLongRoundTrip(t *testing.T) {
	const (
		ticks    = 400 // 20 s at 20 per second
		cmdSize  = 20
		updSize  = 30
		maxHeld  = 6 << 10 // bytes; the patched association held 2.7 KB, upstream over 10 KB
		interval = time.Second / 20
	)
	connA, connB, link := newLossyPipe(time.Second, 0.25)
	defer link.close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	assocs := connectPair(t, ctx, connA, connB)
	cmds, err := assocs[0].OpenStream(1, sctp.PayloadTypeWebRTCBinary)
	if err != nil {
		t.Fatal(err)
	}
	upds, err := assocs[0].OpenStream(2, sctp.PayloadTypeWebRTCBinary)
	if err != nil {
		t.Fatal(err)
	}
	upds.SetReliabilityParams(true, sctp.ReliabilityTypeRexmit, 0)

	received := make(chan error, 1)
	go func() {
		buf := make([]byte, 1024)
		for n := 0; n < ticks; {
			s, err := assocs[1].AcceptStream()
			if err != nil {
				received <- err
				return
			}
			if s.StreamIdentifier() != 1 {
				go func() { // drain the updates
					for {
						if _, err := s.Read(buf[:0:1024]); err != nil {
							return
						}
					}
				}()
				continue
			}
			for ; n < ticks; n++ {
				k, err := s.Read(buf)
				if err != nil {
					received <- fmt.Errorf("command %d: %w", n, err)
					return
				}
				if k != cmdSize || binary.BigEndian.Uint16(buf) != uint16(n) {
					received <- fmt.Errorf("command %d: got %d bytes numbered %d", n, k, binary.BigEndian.Uint16(buf))
					return
				}
			}
		}
		received <- nil
	}()
	pace := time.NewTicker(interval) // a game's send rate
	defer pace.Stop()
	cmd, upd := make([]byte, cmdSize), make([]byte, updSize)
	var held uint64
	for i := range ticks {
		binary.BigEndian.PutUint16(cmd, uint16(i))
		if _, err := cmds.Write(cmd); err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
		if _, err := upds.Write(upd); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		held = max(held, upds.BufferedAmount())
		<-pace.C
	}
	t.Logf("the unreliable stream held at most %d B unacknowledged (limit %d)", held, maxHeld)
	if held > maxHeld {
		t.Errorf("the unreliable stream held up to %d B, want at most %d: lost chunks were not forwarded past", held, maxHeld)
	}
	select {
	case err := <-received:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatalf("not every command arrived within %v", 2*time.Minute)
	}
}
