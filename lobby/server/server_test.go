package server

import (
	"strings"
	"testing"
	"time"

	"github.com/volleynet/volley/lobby"
)

func TestTURNCredentials(t *testing.T) {
	// Golden vector: base64(HMAC-SHA1("turn-secret", "1700000000:c1234")), computed independently.
	user, cred := TURNCredentials("turn-secret", "c1234", time.Unix(1700000000, 0))
	if user != "1700000000:c1234" || cred != "rjJBx/YYI0XYSTPCC62rPaqOJeo=" {
		t.Fatalf("got %q %q", user, cred)
	}
}

func TestWelcomeICEServers(t *testing.T) {
	now := time.Unix(1700000000, 0)
	tests := []struct {
		name string
		cfg  Config
		want func(id string) []lobby.ICEServer
	}{
		{"none", Config{}, func(string) []lobby.ICEServer { return nil }},
		{"stun only", Config{ICEServers: []lobby.ICEServer{{URLs: []string{"stun:stun.example:3478"}}}},
			func(string) []lobby.ICEServer { return []lobby.ICEServer{{URLs: []string{"stun:stun.example:3478"}}} }},
		{"turn with secret", Config{
			ICEServers: []lobby.ICEServer{{URLs: []string{"stun:stun.example:3478"}}},
			TURNURLs:   []string{"turn:turn.example:3478?transport=udp"}, TURNSecret: "turn-secret",
			TURNCredentialTTL: time.Hour, Now: func() time.Time { return now },
		}, func(id string) []lobby.ICEServer {
			user, cred := TURNCredentials("turn-secret", id, now.Add(time.Hour))
			return []lobby.ICEServer{{URLs: []string{"stun:stun.example:3478"}},
				{URLs: []string{"turn:turn.example:3478?transport=udp"}, Username: user, Credential: cred}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, tc.cfg)
			r := dialRaw(t, env.url)
			got, want := r.welcome.ICEServers, tc.want(r.id)
			if len(got) != len(want) {
				t.Fatalf("ICE servers = %+v, want %+v", got, want)
			}
			for i := range got {
				if strings.Join(got[i].URLs, ",") != strings.Join(want[i].URLs, ",") ||
					got[i].Username != want[i].Username || got[i].Credential != want[i].Credential {
					t.Fatalf("ICE server %d = %+v, want %+v", i, got[i], want[i])
				}
			}
			if tc.cfg.TURNSecret != "" && !strings.HasSuffix(got[1].Username, ":"+r.id) {
				t.Fatalf("username %q does not name the connection", got[1].Username)
			}
		})
	}
}

func TestHealthAndMetrics(t *testing.T) {
	env := newEnv(t, Config{})
	if code, body := httpGet(t, env.ts.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz = %d %q", code, body)
	}
	h := dialRaw(t, env.url)
	h.create("m", 0, "")
	p := dialRaw(t, env.url)
	p.sendText("nope")
	p.expectError(lobby.CodeBadMessage)
	_, body := httpGet(t, env.ts.URL+"/metrics")
	for _, want := range []string{
		"lobby_connections 2",
		"lobby_connections_total 2",
		"lobby_rooms 1",
		`lobby_messages_received_total{type="create"} 1`,
		`lobby_messages_received_total{type="invalid"} 1`,
		`lobby_messages_sent_total{type="welcome"} 2`,
		`lobby_rejections_total{reason="bad_message"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	// A plain GET on the WebSocket endpoint is refused politely.
	if code, _ := httpGet(t, env.ts.URL+"/ws"); code != 426 {
		t.Fatalf("GET /ws = %d", code)
	}
	// Two servers in one process do not share metrics.
	other := newEnv(t, Config{})
	if got := other.metric(t, "lobby_rooms", ""); got != 0 {
		t.Fatalf("second server sees %v rooms", got)
	}
}

func TestMaxConnections(t *testing.T) {
	env := newEnv(t, Config{MaxConnections: 1})
	dialRaw(t, env.url)
	ctx := testCtx(t)
	if _, err := lobby.Dial(ctx, env.url, lobby.ClientConfig{}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("second connection: %v", err)
	}
}

func TestTooManyRooms(t *testing.T) {
	env := newEnv(t, Config{MaxRooms: 1})
	dialRaw(t, env.url).create("one", 0, "")
	r := dialRaw(t, env.url)
	r.send(lobby.Message{Type: lobby.TypeCreate})
	r.expectError(lobby.CodeTooManyRooms)
}
