// Package signaling holds the one message type that WebRTC signaling needs and the
// tiny interface through which netcode sessions exchange it, so that the lobby, an
// in-process pipe or any other transport can carry offers, answers and ICE candidates.
//
// The JSON shapes are the ones browsers already produce, so web code can pass them
// straight through:
//
//	{"type":"offer","sdp":"v=0..."}
//	{"type":"answer","sdp":"v=0..."}
//	{"type":"ice","candidate":"candidate:...","sdpMid":"0","sdpMLineIndex":0}
//
// An "ice" signal with an empty candidate marks the end of candidates.
package signaling

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Signal types.
const (
	TypeOffer  = "offer"
	TypeAnswer = "answer"
	TypeICE    = "ice"
)

// MaxSDPBytes bounds the size of an SDP a peer may send; real SDPs are a few kB.
const MaxSDPBytes = 64 << 10

// MaxCandidateBytes bounds the size of one ICE candidate line.
const MaxCandidateBytes = 1024

// Signal is one signaling message: an SDP offer or answer, or one trickled ICE
// candidate (the JSON of an RTCIceCandidateInit plus "type":"ice").
type Signal struct {
	Type          string  `json:"type"`                    // TypeOffer, TypeAnswer or TypeICE
	SDP           string  `json:"sdp,omitempty"`           // the offer's or answer's SDP
	Candidate     string  `json:"candidate,omitempty"`     // "candidate:..."; empty ends the candidates
	SDPMid        *string `json:"sdpMid,omitempty"`        // the candidate's media stream ID
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"` // the candidate's m-line index
}

// ErrInvalidSignal is wrapped by Validate's errors.
var ErrInvalidSignal = errors.New("signaling: invalid signal")

// Validate reports whether s is well formed: a known type, and sizes within bounds.
func (s Signal) Validate() error {
	switch s.Type {
	case TypeOffer, TypeAnswer:
		if s.SDP == "" {
			return fmt.Errorf("%w: %s without sdp", ErrInvalidSignal, s.Type)
		}
		if len(s.SDP) > MaxSDPBytes {
			return fmt.Errorf("%w: sdp of %d bytes exceeds %d", ErrInvalidSignal, len(s.SDP), MaxSDPBytes)
		}
	case TypeICE:
		if len(s.Candidate) > MaxCandidateBytes {
			return fmt.Errorf("%w: candidate of %d bytes exceeds %d", ErrInvalidSignal, len(s.Candidate), MaxCandidateBytes)
		}
	default:
		return fmt.Errorf("%w: unknown type %q", ErrInvalidSignal, s.Type)
	}
	return nil
}

// Signaler carries signals between one client and its host. Implementations must be
// safe for one sender and one receiver goroutine at a time.
type Signaler interface {
	// SendSignal delivers s to the other side.
	SendSignal(ctx context.Context, s Signal) error
	// RecvSignal blocks until the other side sends a signal, ctx ends or the
	// signaling path closes (then it returns an error wrapping ErrClosed).
	RecvSignal(ctx context.Context) (Signal, error)
}

// ErrClosed is returned by a Signaler whose path has closed.
var ErrClosed = errors.New("signaling: closed")

// Pipe returns two connected in-memory Signalers, for tests and for hosts and
// clients that live in the same process. Closing either end closes both.
func Pipe() (*PipeEnd, *PipeEnd) {
	ab := make(chan Signal, 64)
	ba := make(chan Signal, 64)
	done := make(chan struct{})
	once := new(sync.Once)
	a := &PipeEnd{out: ab, in: ba, done: done, once: once}
	b := &PipeEnd{out: ba, in: ab, done: done, once: once}
	return a, b
}

// PipeEnd is one end of an in-memory signaling pipe.
type PipeEnd struct {
	out  chan<- Signal
	in   <-chan Signal
	done chan struct{}
	once *sync.Once
}

// SendSignal implements Signaler. It blocks while the other end's 64-signal buffer is full.
func (p *PipeEnd) SendSignal(ctx context.Context, s Signal) error {
	select {
	case <-p.done:
		return ErrClosed
	default:
	}
	select {
	case p.out <- s:
		return nil
	case <-p.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RecvSignal implements Signaler.
func (p *PipeEnd) RecvSignal(ctx context.Context) (Signal, error) {
	select {
	case s := <-p.in:
		return s, nil
	case <-p.done:
		return Signal{}, ErrClosed
	case <-ctx.Done():
		return Signal{}, ctx.Err()
	}
}

// Close closes both ends of the pipe.
func (p *PipeEnd) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}
