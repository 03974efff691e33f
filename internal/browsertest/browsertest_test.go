//go:build !js

package browsertest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/volleynet/volley/internal/browsertest"
	"github.com/volleynet/volley/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

const helloPage = `<!doctype html><script src="wasm_exec.js"></script><script>
const go = new Go();
WebAssembly.instantiateStreaming(fetch("hello.wasm"), go.importObject)
  .then(r => go.run(r.instance))
  .catch(e => { window.helloResult = "error: " + e; });
</script>`

// TestBrowser builds a small wasm program, serves it with wasm_exec.js and checks in
// headless Chromium that it ran.
func TestBrowser(t *testing.T) {
	chrome := browsertest.Chromium(t)
	web := browsertest.Serve(t, t.Context(), "./testdata/hello", "hello.wasm", helloPage)
	bctx := browsertest.NewBrowser(t, t.Context(), chrome, chromedp.WindowSize(800, 600))
	if err := chromedp.Do(bctx, chromedp.Navigate(web.URL+"/index.html")); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(bctx, chromedp.Poll[string](`window.helloResult`, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello from wasm"; got != want {
		t.Fatalf("page says %q, want %q", got, want)
	}
	width, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.outerWidth`))
	if err != nil || width != 800 {
		t.Errorf("window width = %d (%v), want 800 from the extra option", width, err)
	}
	if err := chromedp.Cancel(bctx); err != nil {
		t.Errorf("closing the browser early: %v", err)
	}
}

// TestBuildWasmFails checks that a package that does not build fails the test with the
// compiler's output.
func TestBuildWasmFails(t *testing.T) {
	ft := &fatalT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		browsertest.BuildWasm(ft, context.Background(), "./testdata/nosuchpkg", filepath.Join(t.TempDir(), "x.wasm"))
	}()
	<-done
	if ft.msg == "" {
		t.Fatal("BuildWasm of a missing package did not fail the test")
	}
	t.Logf("failure: %s", ft.msg)
}

// fatalT records a Fatalf instead of failing the real test, and ends its goroutine
// as Fatalf does.
type fatalT struct {
	testing.TB
	msg string
}

func (f *fatalT) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
