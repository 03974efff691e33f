package netcode

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/signaling"
)

// maxQueuedSignals bounds the outgoing signal queue and the candidates buffered before
// a description; extra candidates are dropped (a peer has a handful).
const maxQueuedSignals = 128

// sigWriter sends a session's outgoing signals in order from one goroutine: the
// description first, then trickled candidates, which pion may produce before the
// description has been queued.
type sigWriter struct {
	mu    sync.Mutex
	ready bool
	early []signaling.Signal
	out   chan signaling.Signal
	// gone is set once the signaling path has closed (a send failed, or the
	// reader saw it close): nothing can reach the other side any more.
	gone atomic.Bool
}

// closed reports whether the signaling path has closed.
func (w *sigWriter) closed() bool { return w.gone.Load() }

// readerSaw records a receive error: a closed path means nothing can be signaled.
func (w *sigWriter) readerSaw(err error) {
	if errors.Is(err, signaling.ErrClosed) {
		w.gone.Store(true)
	}
}

func newSigWriter() *sigWriter {
	return &sigWriter{out: make(chan signaling.Signal, maxQueuedSignals)}
}

// candidate queues a trickled candidate (nil: end of candidates). Never blocks.
func (w *sigWriter) candidate(c *webrtc.ICECandidate) {
	s := signaling.Signal{Type: signaling.TypeICE}
	if c != nil {
		init := c.ToJSON()
		s.Candidate, s.SDPMid, s.SDPMLineIndex = init.Candidate, init.SDPMid, init.SDPMLineIndex
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ready {
		if len(w.early) < maxQueuedSignals {
			w.early = append(w.early, s)
		}
		return
	}
	select {
	case w.out <- s:
	default:
	}
}

// description queues the offer or answer, then any candidates that came first.
func (w *sigWriter) description(d webrtc.SessionDescription) {
	w.describe(signaling.Signal{Type: d.Type.String(), SDP: d.SDP})
}

// describe queues a description signal, then any candidates that came first.
func (w *sigWriter) describe(s signaling.Signal) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.out <- s
	for _, s := range w.early {
		select {
		case w.out <- s:
		default:
		}
	}
	w.early, w.ready = nil, true
}

// hold makes candidates wait for the next description again: an ICE restart gathers
// new candidates, which must follow its offer or answer.
func (w *sigWriter) hold() {
	w.mu.Lock()
	w.ready = false
	w.mu.Unlock()
}

// release undoes hold when no description follows (a restart that failed to start).
func (w *sigWriter) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.early {
		select {
		case w.out <- s:
		default:
		}
	}
	w.early, w.ready = nil, true
}

// run sends queued signals until ctx ends or sending fails.
func (w *sigWriter) run(ctx context.Context, sig signaling.Signaler) {
	for {
		select {
		case s := <-w.out:
			if err := sig.SendSignal(ctx, s); err != nil {
				if ctx.Err() == nil {
					w.gone.Store(true)
				}
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// candidateInit converts an "ice" signal; ok is false for end-of-candidates.
func candidateInit(s signaling.Signal) (webrtc.ICECandidateInit, bool) {
	if s.Candidate == "" {
		return webrtc.ICECandidateInit{}, false
	}
	return webrtc.ICECandidateInit{Candidate: s.Candidate, SDPMid: s.SDPMid, SDPMLineIndex: s.SDPMLineIndex}, true
}

// remoteCandidates adds trickled candidates to a peer connection, holding them until
// the remote description is set. Safe for concurrent use.
type remoteCandidates struct {
	mu      sync.Mutex
	pc      *webrtc.PeerConnection
	haveRD  bool
	pending []webrtc.ICECandidateInit
}

func (r *remoteCandidates) add(s signaling.Signal) error {
	c, ok := candidateInit(s)
	if !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.haveRD {
		if len(r.pending) >= maxQueuedSignals {
			return fmt.Errorf("%w: too many early candidates", ErrSignaling)
		}
		r.pending = append(r.pending, c)
		return nil
	}
	return r.pc.AddICECandidate(c)
}

// setRemote sets the remote description and adds the held candidates.
func (r *remoteCandidates) setRemote(d webrtc.SessionDescription) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.pc.SetRemoteDescription(d); err != nil {
		return fmt.Errorf("%w: remote description: %w", ErrSignaling, err)
	}
	r.haveRD = true
	for _, c := range r.pending {
		// A bad candidate is the peer's problem; the others may still work.
		_ = r.pc.AddICECandidate(c)
	}
	r.pending = nil
	return nil
}

// byeCodes maps a disconnect or refusal reason to the code sent in a bye or a reject
// signal, and back (the list is in the package doc).
var byeCodes = []struct {
	code string
	err  error
}{
	{"left", ErrClientLeft},
	{"closed", ErrClosed},
	{"kicked", ErrKicked},
	{"timeout", ErrTimeout},
	{"flood", ErrFlood},
	{"protocol", ErrProtocol},
	{"slow", ErrSlowConsumer},
	{"bad_channel", ErrBadChannel},
	{"host_full", ErrHostFull},
	{"busy", ErrBusy},
	{"replaced", ErrReplaced},
	{"signaling", ErrSignaling},
	{"version_mismatch", ErrVersionMismatch},
	{"schema_mismatch", ErrSchemaMismatch},
	{"draining", ErrDraining},
	{"resume_expired", ErrResumeExpired},
	{"resume_invalid", ErrResumeInvalid},
	{"resume_replayed", ErrResumeReplayed},
	{"resume_overflow", ErrResumeOverflow},
}

func codeOf(err error) string {
	for _, c := range byeCodes {
		if errorsIs(err, c.err) {
			return c.code
		}
	}
	return "error"
}

func errOfCode(code string) error {
	if err, ok := errorOfCode(code); ok {
		return err
	}
	return ErrConnectionLost
}

func errorOfCode(code string) (error, bool) {
	for _, c := range byeCodes {
		if c.code == code {
			return c.err, true
		}
	}
	return nil, false
}
