package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBuildFailure checks that a build that cannot work says so clearly.
func TestBuildFailure(t *testing.T) {
	const pkg = "github.com/volleynet/volley/examples/arena/no-such-client"
	_, err := buildWasm(context.Background(), t.TempDir(), pkg)
	if !errors.Is(err, ErrBuild) || !strings.Contains(err.Error(), "no-such-client") {
		t.Fatalf("error = %v; want ErrBuild naming the package", err)
	}
	t.Log(err)
}

func TestServeWasm(t *testing.T) {
	raw := bytes.Repeat([]byte("\x00asm wasm bytes "), 1000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	a := &wasmAsset{gz: gz.Bytes(), etag: `"abc"`}

	tests := []struct {
		name         string
		header       http.Header
		wantStatus   int
		wantEncoding string
	}{
		{"gzip", http.Header{"Accept-Encoding": {"gzip, deflate, br"}}, 200, "gzip"},
		{"gzip with q", http.Header{"Accept-Encoding": {"br;q=1.0, gzip;q=0.8"}}, 200, "gzip"},
		{"gzip refused", http.Header{"Accept-Encoding": {"gzip;q=0"}}, 200, ""},
		{"no gzip", http.Header{}, 200, ""},
		{"cached", http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {`"abc"`}}, 304, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/arena.wasm", nil)
			r.Header = tc.header
			w := httptest.NewRecorder()
			a.serveWasm(w, r)
			res := w.Result()
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.wantStatus)
			}
			if got := res.Header.Get("Content-Encoding"); got != tc.wantEncoding {
				t.Errorf("Content-Encoding %q, want %q", got, tc.wantEncoding)
			}
			if res.StatusCode == 304 {
				return
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/wasm" {
				t.Errorf("Content-Type %q", ct)
			}
			body, _ := io.ReadAll(res.Body)
			if tc.wantEncoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				body, _ = io.ReadAll(zr)
			}
			if !bytes.Equal(body, raw) {
				t.Errorf("body of %d bytes differs from the wasm", len(body))
			}
		})
	}
}
