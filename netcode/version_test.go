//go:build !js

package netcode

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/volleynet/volley/snapshot"
)

// otherPlayer differs from Player in one field's range: another game's schema.
type otherPlayer struct {
	X     float32 `snap:"float,min=-1000,max=1000,prec=0.01"`
	Y     float32 `snap:"float,min=-1000,max=1000,prec=0.01"`
	Angle float32 `snap:"angle,bits=12"`
	HP    int     `snap:"int,min=0,max=200"`
	Spawn int     `snap:"int,min=0,max=255,teleport"`
}

// TestDialRefusesMismatch connects clients over real pion on loopback to hosts that
// announce another schema or another protocol version: Dial must return the typed
// error at once (not after a timeout), naming both sides' values, and the host must
// see the client leave with the same reason.
func TestDialRefusesMismatch(t *testing.T) {
	other := snapshot.NewRegistry()
	if _, err := other.Register(playerType, otherPlayer{}); err != nil {
		t.Fatal(err)
	}
	reg := testRegistry(t)
	tests := []struct {
		name       string
		clientReg  *snapshot.Registry
		hostProto  int
		want       error
		wantValues []string
	}{
		{"schema", other, 0, ErrSchemaMismatch, []string{reg.Fingerprint(), other.Fingerprint()}},
		{"version", reg, ProtocolVersion + 1, ErrVersionMismatch, []string{fmt.Sprintf("version %d", ProtocolVersion+1), fmt.Sprintf("client %d", ProtocolVersion)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			rec := newRecorder()
			srv, err := NewServer(ServerConfig{
				Registry:  reg,
				Transport: loopback(),
				proto:     tc.hostProto,
				Step: func(tk *Tick) {
					rec.mu.Lock()
					defer rec.mu.Unlock()
					rec.left = append(rec.left, tk.Left...)
					if len(tk.Left) > 0 {
						rec.poke()
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			// A client timeout far beyond the test's wait: only the refusal can
			// end Dial.
			c, _, err := tryConnect(ctx, srv, ClientConfig{Registry: tc.clientReg, Transport: loopback(), Timeout: time.Hour})
			if c != nil {
				c.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Dial error = %v, want %v", err, tc.want)
			}
			for _, v := range tc.wantValues {
				if !strings.Contains(err.Error(), v) {
					t.Errorf("error %q does not name %q", err, v)
				}
			}
			rec.waitFor(t, 30*time.Second, "the host to see the client leave", func() bool { return len(rec.left) > 0 })
			rec.mu.Lock()
			reason := rec.left[0].Reason
			rec.mu.Unlock()
			if !errors.Is(reason, ErrClientLeft) || !errors.Is(reason, tc.want) {
				t.Errorf("host's departure reason = %v, want ErrClientLeft and %v", reason, tc.want)
			}
		})
	}
}

func TestWelcomeCheck(t *testing.T) {
	fp := "0123456789abcdef"
	ok := welcome{ID: 1, TickRate: 60, SendRate: 30, Proto: ProtocolVersion, Schema: fp}
	if err := ok.check(fp); err != nil {
		t.Fatalf("matching welcome refused: %v", err)
	}
	old := ok
	old.Proto, old.Schema = 0, "" // a host from before versioning
	if err := old.check(fp); !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("unversioned welcome: %v", err)
	}
	bad := ok
	bad.Schema = "fedcba9876543210"
	if err := bad.check(fp); !errors.Is(err, ErrSchemaMismatch) || !strings.Contains(err.Error(), bad.Schema) || !strings.Contains(err.Error(), fp) {
		t.Fatalf("other schema: %v", err)
	}
}
