//go:build !js

// Package browsertest holds the setup shared by the tests that run Go/wasm code in
// headless Chromium: finding the browser, building a package for GOOS=js GOARCH=wasm,
// the matching wasm_exec.js, and a chromedp browser context that is torn down with
// the test.
//
// A test uses it like this:
//
//	chrome := browsertest.Chromium(t) // skips under -short or without chromium
//	web := browsertest.Serve(t, ctx, "./testdata/wasmclient", "client.wasm", page)
//	bctx := browsertest.NewBrowser(t, ctx, chrome)
//	err := chromedp.Do(bctx, chromedp.Navigate(web.URL+"/index.html"))
//
// Tests that serve the files themselves use BuildWasm and WasmExecJS directly.
package browsertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Chromium returns the path of the chromium binary on PATH. It skips the test under
// -short (building wasm and starting a browser take seconds) or when chromium is not
// installed.
func Chromium(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that builds wasm and drives headless Chromium")
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skipf("headless Chromium is not installed (apt-get install chromium): %v", err)
	}
	return path
}

// BuildWasm builds pkg (a path relative to the test's package directory, such as
// "./testdata/wasmclient") for GOOS=js GOARCH=wasm into out, with the go command of
// the running toolchain. It fails the test with the compiler's output on error.
func BuildWasm(t testing.TB, ctx context.Context, pkg, out string) {
	t.Helper()
	// "go" on PATH is the running toolchain: go test puts its GOROOT/bin first.
	build := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("wasm build of %s: %v\n%s", pkg, err, output)
	}
}

// WasmExecJS returns the wasm_exec.js of the running toolchain, the JavaScript glue a
// page needs to run what BuildWasm built.
func WasmExecJS(t testing.TB) []byte {
	t.Helper()
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	js, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// Serve builds pkg (as BuildWasm does) as wasmName into a new temporary directory,
// next to wasm_exec.js and an index.html holding indexHTML, and serves that directory
// over loopback HTTP until the test's cleanup.
func Serve(t testing.TB, ctx context.Context, pkg, wasmName, indexHTML string) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	BuildWasm(t, ctx, pkg, filepath.Join(dir, wasmName))
	for name, data := range map[string][]byte{"wasm_exec.js": WasmExecJS(t), "index.html": []byte(indexHTML)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	web := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(web.Close)
	return web
}

// NewBrowser starts headless Chromium at execPath (see Chromium) under ctx with a fresh
// profile and returns the context of its first tab. Extra options, such as
// chromedp.WindowSize, come after the defaults. The browser is stopped when ctx ends
// or, at the latest, when the test's cleanup runs; chromedp.Cancel on the returned
// context stops it earlier.
func NewBrowser(t testing.TB, ctx context.Context, execPath string, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	all := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Registered before the cleanup below, so removed after the browser stops.
		chromedp.UserDataDir(t.TempDir()),
	}, opts...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, all...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return bctx
}
