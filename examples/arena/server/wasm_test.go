package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildFailure checks that a build that cannot work says so clearly.
func TestBuildFailure(t *testing.T) {
	const pkg = "github.com/volleynet/volley/examples/arena/no-such-client"
	_, err := buildWasm(context.Background(), t.TempDir(), pkg, func() { t.Error("compiling called for a package that does not exist") })
	if !errors.Is(err, ErrBuild) || !strings.Contains(err.Error(), "no-such-client") {
		t.Fatalf("error = %v; want ErrBuild naming the package", err)
	}
	t.Log(err)
}

// TestCompiling checks that buildWasm announces a compilation, and only a real one:
// not for a client it finds in the cache.
func TestCompiling(t *testing.T) {
	const pkg = "./testdata/brokenweb"
	ctx := context.Background()
	cache := t.TempDir()
	compiling := 0
	_, err := buildWasm(ctx, cache, pkg, func() { compiling++ })
	if !errors.Is(err, ErrBuild) || !strings.Contains(err.Error(), "notDefined") {
		t.Fatalf("error = %v; want ErrBuild with the compiler's message", err)
	}
	if compiling != 1 {
		t.Fatalf("compiling called %d times for a build; want 1", compiling)
	}

	// The same sources, cached: no compilation to announce.
	key, err := wasmCacheKey(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, "arena-"+key+".wasm.gz"), []byte("cached"), 0o644); err != nil {
		t.Fatal(err)
	}
	compiling = 0
	a, err := buildWasm(ctx, cache, pkg, func() { compiling++ })
	if err != nil || !a.cached {
		t.Fatalf("buildWasm with a cached client: %+v, %v; want the cached client", a, err)
	}
	if compiling != 0 {
		t.Fatalf("compiling called %d times for a cached client; want 0", compiling)
	}
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
