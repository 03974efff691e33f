package clitest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// notCommand reports whether a main package is one that people do not run: a
// browser program that does nothing natively (it runs under GOOS=js GOARCH=wasm), or
// a helper of the tests (under internal/ or test/).
func notCommand(path string) bool {
	return path == "github.com/volleynet/volley/examples/arena/web" ||
		strings.Contains(path, "/internal/") || strings.Contains(path, "/test/")
}

// commands builds every command of the module into a temporary directory and
// returns the binaries' paths by name (the last element of the import path).
func commands(t *testing.T) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "github.com/volleynet/volley/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []string
	bins := map[string]string{}
	dir := t.TempDir()
	for _, p := range strings.Fields(string(out)) {
		if notCommand(p) {
			continue
		}
		name := path.Base(p)
		if bins[name] != "" {
			t.Fatalf("two commands are called %s: give one another name or build them apart", name)
		}
		bins[name] = filepath.Join(dir, name)
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no commands")
	}
	build := exec.CommandContext(ctx, "go", append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	return bins
}

// result is what one run of a command did.
type result struct {
	code   int
	output string // stdout and stderr
}

// run runs bin with args and returns its exit status and output. A command that
// does not exit within a minute is killed and fails the test: a command that ignores
// a bad argument would start serving.
func run(t *testing.T, bin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not exit within a minute; output:\n%s", filepath.Base(bin), strings.Join(args, " "), out.String())
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return result{0, out.String()}
	case errors.As(err, &exit):
		return result{exit.ExitCode(), out.String()}
	}
	t.Fatalf("%s: %v", bin, err)
	return result{}
}

// want checks a run's exit status and that its output contains every string of
// contains.
func (r result) want(t *testing.T, what string, code int, contains ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("%s: exit status %d, want %d; output:\n%s", what, r.code, code, r.output)
		return
	}
	for _, s := range contains {
		if !strings.Contains(r.output, s) {
			t.Errorf("%s: output lacks %q:\n%s", what, s, r.output)
		}
	}
}

// commandsRE finds a usage's "Commands:" section: the names indented under it.
var commandsRE = regexp.MustCompile(`(?m)^Commands:\n((?:  \S.*\n)+)`)

// TestCommands runs every command with -h, -help, an unknown flag and an unknown
// argument, and each subcommand listed by its -h likewise.
func TestCommands(t *testing.T) {
	bins := commands(t)
	for name, bin := range bins {
		t.Run(name, func(t *testing.T) {
			help := run(t, bin, "-h")
			help.want(t, name+" -h", 0, "Usage: "+name)
			run(t, bin, "-help").want(t, name+" -help", 0, "Usage: "+name)
			run(t, bin, "-no-such-flag").want(t, name+" -no-such-flag", 2, "no-such-flag", "Usage: "+name)

			m := commandsRE.FindStringSubmatch(help.output)
			if m == nil {
				// No subcommands: a stray argument is a mistake, not ignored.
				run(t, bin, "nosuch").want(t, name+" nosuch", 2, `"nosuch"`, "Usage: "+name)
				return
			}
			run(t, bin, "nosuch").want(t, name+" nosuch", 2, `unknown command "nosuch"`, "Commands:")
			for _, line := range strings.Split(strings.TrimSpace(m[1]), "\n") {
				sub := strings.Fields(line)[0]
				usage := "Usage: " + name + " " + sub
				run(t, bin, sub, "-h").want(t, name+" "+sub+" -h", 0, usage)
				run(t, bin, sub, "-no-such-flag").want(t, name+" "+sub+" -no-such-flag", 2, "no-such-flag", usage)
				run(t, bin, sub, "nosuch").want(t, name+" "+sub+" nosuch", 2, `"nosuch"`, usage)
			}
		})
	}
	if bins["arena"] == "" {
		t.Fatal("no arena command found")
	}
	t.Run("arena port taken", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		r := run(t, bins["arena"], "-addr", ln.Addr().String())
		r.want(t, "arena with its port taken", 1, ln.Addr().String(), "-addr")
		if lines := strings.Split(strings.TrimSpace(r.output), "\n"); len(lines) != 1 || strings.Contains(r.output, "arena: arena:") {
			t.Errorf("arena with its port taken: want one line with one prefix, got:\n%s", r.output)
		}
	})
}
