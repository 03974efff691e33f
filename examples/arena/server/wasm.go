package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// WebPackage is the import path of the browser client that Build compiles to wasm.
const WebPackage = "github.com/volleynet/volley/examples/arena/web"

// wasmAsset is the browser client, gzip-compressed, ready to serve.
type wasmAsset struct {
	gz       []byte // the gzip-compressed wasm binary
	etag     string // quoted, from the cache key
	rawBytes int    // uncompressed size, for the log
	cached   bool   // true if gz came from the cache
}

// goCmd runs the go tool with extra environment and returns its trimmed stdout.
func goCmd(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

var wasmEnv = []string{"GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0"}

// buildWasm compiles pkg (the web client) for GOOS=js GOARCH=wasm, gzips it and caches the
// result in cacheDir under a key made of the Go version and the contents of every
// source file of the module that the client links, so a second start with unchanged
// sources skips the build. The module is found from the working directory (the
// checkout `go run ./examples/arena` runs in). compiling, if not nil, is called when
// the client is not in the cache, before the build starts.
func buildWasm(ctx context.Context, cacheDir, pkg string, compiling func()) (*wasmAsset, error) {
	key, err := wasmCacheKey(ctx, pkg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (run from a checkout of the Volley module)", ErrBuild, err)
	}
	a := &wasmAsset{etag: `"` + key + `"`}
	if cacheDir == "" {
		cacheDir = filepath.Join(os.TempDir(), "volley-arena-cache")
	}
	cached := filepath.Join(cacheDir, "arena-"+key+".wasm.gz")
	if gz, err := os.ReadFile(cached); err == nil && len(gz) > 0 {
		a.gz, a.cached = gz, true
		return a, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: cache directory: %v", ErrBuild, err)
	}
	tmp, err := os.MkdirTemp(cacheDir, "build-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "arena.wasm")
	if compiling != nil {
		compiling()
	}
	if _, err := goCmd(ctx, "", wasmEnv, "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(raw)
	zw.Close()
	a.gz, a.rawBytes = buf.Bytes(), len(raw)
	// Write-then-rename, so a concurrent start never reads half a file.
	part := filepath.Join(tmp, "arena.wasm.gz")
	if err := os.WriteFile(part, a.gz, 0o644); err == nil {
		removeStale(cacheDir)
		os.Rename(part, cached)
	}
	return a, nil
}

// removeStale deletes cached builds of other keys.
func removeStale(dir string) {
	old, _ := filepath.Glob(filepath.Join(dir, "arena-*.wasm.gz"))
	for _, f := range old {
		os.Remove(f)
	}
}

// loadExecJS returns wasm_exec.js from the Go installation that builds the client.
func loadExecJS(ctx context.Context) ([]byte, error) {
	goroot, err := goCmd(ctx, "", nil, "env", "GOROOT")
	if err != nil {
		return nil, fmt.Errorf("%w: is the go tool on PATH? %v", ErrBuild, err)
	}
	b, err := readExecJS(goroot)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBuild, err)
	}
	return b, nil
}

// DefaultCacheDir is where the arena command caches built clients: .cache in the
// arena's source directory when run from the Volley module, else the user cache.
func DefaultCacheDir() string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if dir, err := goCmd(ctx, "", nil, "list", "-f", "{{.Dir}}", "github.com/volleynet/volley/examples/arena"); err == nil && dir != "" {
		return filepath.Join(dir, ".cache")
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "volley-arena")
	}
	return filepath.Join(os.TempDir(), "volley-arena-cache")
}

// readExecJS returns wasm_exec.js from a Go installation (lib/wasm since Go 1.24,
// misc/wasm before).
func readExecJS(goroot string) ([]byte, error) {
	var firstErr error
	for _, p := range []string{"lib/wasm/wasm_exec.js", "misc/wasm/wasm_exec.js"} {
		b, err := os.ReadFile(filepath.Join(goroot, p))
		if err == nil {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, fmt.Errorf("wasm_exec.js not found in GOROOT %s: %w", goroot, firstErr)
}

// wasmCacheKey hashes the Go version, the module's go.mod and go.sum, and every Go
// source file of the module's packages that the web client links.
func wasmCacheKey(ctx context.Context, pkg string) (string, error) {
	h := sha256.New()
	ver, err := goCmd(ctx, "", nil, "version")
	if err != nil {
		return "", err
	}
	fmt.Fprintln(h, ver)
	list, err := goCmd(ctx, "", wasmEnv, "list", "-deps",
		"-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{end}}{{end}}`, pkg)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(list, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		dir := fields[0]
		for _, f := range fields[1:] {
			if err := hashFile(h, filepath.Join(dir, f)); err != nil {
				return "", err
			}
		}
	}
	if root, err := goCmd(ctx, "", nil, "env", "GOMOD"); err == nil && root != "" {
		hashFile(h, root)
		hashFile(h, strings.TrimSuffix(root, ".mod")+".sum")
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintln(h, path)
	_, err = io.Copy(h, f)
	return err
}

// serveWasm serves the gzip-compressed wasm, uncompressing it for the rare client
// that does not accept gzip.
func (a *wasmAsset) serveWasm(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/wasm")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", a.etag)
	w.Header().Add("Vary", "Accept-Encoding")
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if acceptsGzip(r) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", fmt.Sprint(len(a.gz)))
		w.Write(a.gz)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(a.gz))
	if err != nil {
		http.Error(w, "corrupt wasm cache", http.StatusInternalServerError)
		return
	}
	io.Copy(w, zr)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
