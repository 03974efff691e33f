package sctpleak

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
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
