package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	mid, idx := "0", uint16(0)
	tests := []struct {
		name string
		s    Signal
		ok   bool
	}{
		{"offer", Signal{Type: TypeOffer, SDP: "v=0"}, true},
		{"answer", Signal{Type: TypeAnswer, SDP: "v=0"}, true},
		{"ice", Signal{Type: TypeICE, Candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host", SDPMid: &mid, SDPMLineIndex: &idx}, true},
		{"end of candidates", Signal{Type: TypeICE}, true},
		{"offer without sdp", Signal{Type: TypeOffer}, false},
		{"huge sdp", Signal{Type: TypeAnswer, SDP: strings.Repeat("a", MaxSDPBytes+1)}, false},
		{"huge candidate", Signal{Type: TypeICE, Candidate: strings.Repeat("a", MaxCandidateBytes+1)}, false},
		{"unknown type", Signal{Type: "pranswer", SDP: "v=0"}, false},
		{"empty", Signal{}, false},
		{"reject", Signal{Type: TypeReject, Code: "host_full", Reason: "the host has 2 players"}, true},
		{"reject without reason", Signal{Type: TypeReject, Code: "busy"}, true},
		{"reject without code", Signal{Type: TypeReject, Reason: "no"}, false},
		{"reject with a bad code", Signal{Type: TypeReject, Code: "Host Full"}, false},
		{"reject with a long code", Signal{Type: TypeReject, Code: strings.Repeat("a", MaxCodeBytes+1)}, false},
		{"reject with a huge reason", Signal{Type: TypeReject, Code: "x", Reason: strings.Repeat("a", MaxReasonBytes+1)}, false},
		{"reject with sdp", Signal{Type: TypeReject, Code: "x", SDP: "v=0"}, false},
		{"offer with a code", Signal{Type: TypeOffer, SDP: "v=0", Code: "x"}, false},
		{"ice with a reason", Signal{Type: TypeICE, Reason: "x"}, false},
		{"Reject cuts the reason", Reject("x", strings.Repeat("é", MaxReasonBytes)), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			if tc.ok && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidSignal) {
				t.Fatalf("Validate() = %v, want ErrInvalidSignal", err)
			}
		})
	}
}

// The JSON shapes must be the ones browsers produce for RTCSessionDescriptionInit and
// RTCIceCandidateInit, so web code can pass them straight through.
func TestJSONShapes(t *testing.T) {
	mid, idx := "0", uint16(0)
	tests := []struct {
		s    Signal
		json string
	}{
		{Signal{Type: TypeOffer, SDP: "v=0"}, `{"type":"offer","sdp":"v=0"}`},
		{Signal{Type: TypeICE, Candidate: "candidate:x", SDPMid: &mid, SDPMLineIndex: &idx},
			`{"type":"ice","candidate":"candidate:x","sdpMid":"0","sdpMLineIndex":0}`},
		{Signal{Type: TypeReject, Code: "host_full", Reason: "full"}, `{"type":"reject","code":"host_full","reason":"full"}`},
	}
	for _, tc := range tests {
		b, err := json.Marshal(tc.s)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.json {
			t.Errorf("Marshal = %s, want %s", b, tc.json)
		}
		var back Signal
		if err := json.Unmarshal([]byte(tc.json), &back); err != nil {
			t.Fatal(err)
		}
		if b2, _ := json.Marshal(back); string(b2) != tc.json {
			t.Errorf("round trip = %s, want %s", b2, tc.json)
		}
	}
}

func TestPipe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, b := Pipe()
	want := Signal{Type: TypeOffer, SDP: "v=0"}
	if err := a.SendSignal(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := b.RecvSignal(ctx)
	if err != nil || got.Type != want.Type || got.SDP != want.SDP {
		t.Fatalf("RecvSignal = %+v, %v; want %+v", got, err, want)
	}
	if err := b.SendSignal(ctx, Signal{Type: TypeAnswer, SDP: "v=0"}); err != nil {
		t.Fatal(err)
	}
	if got, err := a.RecvSignal(ctx); err != nil || got.Type != TypeAnswer {
		t.Fatalf("RecvSignal = %+v, %v; want an answer", got, err)
	}

	b.Close()
	if _, err := a.RecvSignal(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("RecvSignal after Close = %v, want ErrClosed", err)
	}
	if err := a.SendSignal(ctx, want); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendSignal after Close = %v, want ErrClosed", err)
	}
}

func TestPipeContext(t *testing.T) {
	a, _ := Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.RecvSignal(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("RecvSignal = %v, want context.Canceled", err)
	}
}
