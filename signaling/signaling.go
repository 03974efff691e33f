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
//	{"type":"reject","code":"host_full","reason":"the host has 256 players"}
//	{"type":"offer","sdp":"v=0...","resume":"AQAAAAc..."}
//
// An "ice" signal with an empty candidate marks the end of candidates. A "reject" is a
// host's refusal of a connection: a short machine-readable code (lowercase letters,
// digits and underscores, see [ValidCode]) and a sentence for people. The codes a
// Volley host sends are listed in the netcode package (its bye codes); a client that
// receives a reject stops connecting and reports the code. An offer may carry a
// resume token (at most MaxResumeBytes, opaque to everyone but the host that issued
// it): the client asks to resume its session on this new connection.
package signaling

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Signal types.
const (
	TypeOffer  = "offer"
	TypeAnswer = "answer"
	TypeICE    = "ice"
	TypeReject = "reject"
)

// MaxSDPBytes bounds the size of an SDP a peer may send; real SDPs are a few kB.
const MaxSDPBytes = 64 << 10

// MaxCandidateBytes bounds the size of one ICE candidate line.
const MaxCandidateBytes = 1024

// MaxCodeBytes bounds a reject's code, MaxReasonBytes its reason.
const (
	MaxCodeBytes   = 32
	MaxReasonBytes = 256
)

// MaxResumeBytes bounds an offer's resume token.
const MaxResumeBytes = 128

// Signal is one signaling message: an SDP offer or answer, one trickled ICE
// candidate (the JSON of an RTCIceCandidateInit plus "type":"ice"), or a host's
// refusal ("reject").
type Signal struct {
	// Type is TypeOffer, TypeAnswer, TypeICE or TypeReject.
	Type string `json:"type"`
	// SDP is the session description of an offer or answer.
	SDP string `json:"sdp,omitempty"`
	// Candidate, SDPMid and SDPMLineIndex are an ICE candidate's fields, as in
	// RTCIceCandidateInit; an empty Candidate ends the candidates.
	Candidate     string  `json:"candidate,omitempty"`
	SDPMid        *string `json:"sdpMid,omitempty"`        // the candidate's media stream ID
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"` // the candidate's m-line index
	// Code says why a reject refuses (e.g. "host_full"); see ValidCode.
	Code string `json:"code,omitempty"`
	// Reason explains a reject to people; at most MaxReasonBytes.
	Reason string `json:"reason,omitempty"`
	// Resume is an offer's resume token, asking the host to resume a session.
	Resume string `json:"resume,omitempty"`
}

// ErrInvalidSignal is wrapped by Validate's errors.
var ErrInvalidSignal = errors.New("signaling: invalid signal")

// Validate reports whether s is well formed: a known type, and sizes within bounds.
// A reject needs a valid code; other types may carry no code or reason.
func (s Signal) Validate() error {
	if s.Type != TypeReject && (s.Code != "" || s.Reason != "") {
		return fmt.Errorf("%w: code or reason in %q", ErrInvalidSignal, s.Type)
	}
	if s.Resume != "" && s.Type != TypeOffer {
		return fmt.Errorf("%w: resume token in %q", ErrInvalidSignal, s.Type)
	}
	if len(s.Resume) > MaxResumeBytes {
		return fmt.Errorf("%w: resume token of %d bytes exceeds %d", ErrInvalidSignal, len(s.Resume), MaxResumeBytes)
	}
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
	case TypeReject:
		if !ValidCode(s.Code) {
			return fmt.Errorf("%w: reject code %q", ErrInvalidSignal, s.Code)
		}
		if len(s.Reason) > MaxReasonBytes {
			return fmt.Errorf("%w: reason of %d bytes exceeds %d", ErrInvalidSignal, len(s.Reason), MaxReasonBytes)
		}
		if s.SDP != "" || s.Candidate != "" {
			return fmt.Errorf("%w: reject with sdp or candidate", ErrInvalidSignal)
		}
	default:
		return fmt.Errorf("%w: unknown type %q", ErrInvalidSignal, s.Type)
	}
	return nil
}

// ValidCode reports whether code can be a reject's code: 1 to MaxCodeBytes lowercase
// ASCII letters, digits and underscores.
func ValidCode(code string) bool {
	if code == "" || len(code) > MaxCodeBytes {
		return false
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// Reject returns a reject signal with code and reason, the reason cut to
// MaxReasonBytes (at a character boundary).
func Reject(code, reason string) Signal {
	if len(reason) > MaxReasonBytes {
		reason = strings.ToValidUTF8(reason[:MaxReasonBytes], "")
	}
	return Signal{Type: TypeReject, Code: code, Reason: reason}
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
