//go:build !js

package lobby_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/volleynet/volley/internal/leakcheck"
	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

const waitTimeout = 10 * time.Second

// testEnv is a real lobby server (package lobby/server) on loopback for the client's
// tests; the server's own tests live in that package.
type testEnv struct {
	srv *lobbyserver.Server
	ts  *httptest.Server
	url string // ws://.../ws
}

func newEnv(t testing.TB, cfg lobbyserver.Config) *testEnv {
	t.Helper()
	srv := lobbyserver.New(cfg)
	ts := httptest.NewServer(srv.Mux())
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return &testEnv{srv: srv, ts: ts, url: "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"}
}

func dialClient(t testing.TB, url string) *lobby.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := lobby.Dial(ctx, url, lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}
