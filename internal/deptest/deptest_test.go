package deptest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/volleynet/volley"

// clientPackages are what a player program imports.
var clientPackages = []string{
	module + "/lobby",
	module + "/netcode",
	module + "/snapshot",
	module + "/signaling",
}

// serverOnly may be linked by no client package on any platform: an import path
// equal to one of these or below it.
var serverOnly = []string{
	module + "/lobby/server",
	module + "/netcode/netcodeprom",
	"github.com/redis/go-redis",
	"github.com/prometheus",
}

// notInBrowser may not be linked under GOOS=js GOARCH=wasm either: net/http doubles
// the wasm binary, and the browser has its own WebSocket.
var notInBrowser = []string{
	"net/http",
	"github.com/gorilla/websocket",
}

// TestClientDeps lists the dependencies of the client packages, natively and for the
// browser, and fails on any server-only one, naming the import chain that pulls it in.
func TestClientDeps(t *testing.T) {
	for _, target := range []struct {
		name string
		env  []string
		bad  []string
	}{
		{"native", nil, serverOnly},
		{"js/wasm", []string{"GOOS=js", "GOARCH=wasm"}, slices.Concat(serverOnly, notInBrowser)},
	} {
		t.Run(strings.ReplaceAll(target.name, "/", "_"), func(t *testing.T) {
			imports := listDeps(t, target.env, clientPackages)
			for _, root := range clientPackages {
				if _, ok := imports[root]; !ok {
					t.Errorf("%s: go list did not list %s", target.name, root)
					continue
				}
				for _, chain := range badChains(imports, root, target.bad) {
					t.Errorf("%s: %s depends on %s", target.name, root, strings.Join(chain, " → "))
				}
			}
		})
	}
}

// listDeps runs `go list -deps` on pkgs with env added and returns every listed
// package's imports.
func listDeps(t *testing.T, env, pkgs []string) map[string][]string {
	t.Helper()
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s (%v): %v\n%s", strings.Join(args, " "), env, err, stderr.Bytes())
	}
	imports := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			imports[f[0]] = f[1:]
		}
	}
	return imports
}

// badChains returns, for each forbidden package reachable from root, the shortest
// import chain from root to it (root first).
func badChains(imports map[string][]string, root string, bad []string) [][]string {
	isBad := func(p string) bool {
		for _, b := range bad {
			if p == b || strings.HasPrefix(p, b+"/") {
				return true
			}
		}
		return false
	}
	parent := map[string]string{root: ""}
	queue := []string{root}
	var chains [][]string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if isBad(p) {
			var chain []string
			for q := p; q != ""; q = parent[q] {
				chain = append(chain, q)
			}
			slices.Reverse(chain)
			chains = append(chains, chain)
			continue // report the first forbidden package on a path, not what it imports
		}
		for _, imp := range imports[p] {
			if _, seen := parent[imp]; !seen {
				parent[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return chains
}
