// Package js_test runs the TypeScript client's own checks from the Go test suite, so
// that the README's single test command (go test ./...) covers them: the type check
// and node tests (npm test: vectors, the arena port, and integration tests against a
// real Go host and lobby) and the bundle-size budget (npm run size).
package js_test

import (
	"os"
	"os/exec"
	"testing"
)

func TestNodeSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the JS client's tests (they build and start a Go host)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: skipping the JS client's tests (install Node.js 20+ and run npm ci in js/)")
	}
	if _, err := os.Stat("node_modules/.package-lock.json"); err != nil {
		t.Skip("js/node_modules is missing: run npm ci in js/ to run the JS client's tests (.ci/run does)")
	}
	for _, args := range [][]string{{"test"}, {"run", "size"}} {
		cmd := exec.Command("npm", args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("npm %v: %v\n%s", args, err, out)
		}
		t.Logf("npm %v:\n%s", args, tail(out, 1500))
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
