package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var (
	binDir   string
	binOnce  sync.Once
	binErr   error
	binBuild = []string{"./lobby/cmd/lobby", "./examples/arena/cmd/host"}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// binaries builds the lobby and host commands once per test binary and returns their
// directory.
func binaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the lobby and host commands (-short)")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "volley-deploy-bin")
		if binErr != nil {
			return
		}
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
		cmd := exec.Command("go", append([]string{"build", "-o", binDir + string(filepath.Separator)}, binBuild...)...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

// proc is a command started by a test, its stderr (slog lines) kept and watched.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd

	mu    sync.Mutex
	lines []string
	poke  chan struct{} // signalled on each line and at exit
	done  chan struct{} // closed once the process has exited
	err   error         // Wait's result, set before done closes
}

func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(filepath.Join(binaries(t), name), args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, cmd: cmd, poke: make(chan struct{}, 1), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			p.signal()
		}
		p.err = cmd.Wait()
		close(p.done)
		p.signal()
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.log())
		}
	})
	return p
}

func (p *proc) signal() {
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// waitLine waits for the n-th (from 1) log line containing all of subs and returns it.
func (p *proc) waitLine(n int, subs ...string) string {
	p.t.Helper()
	deadline := time.NewTimer(120 * time.Second)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		seen := 0
		for _, l := range p.lines {
			ok := true
			for _, s := range subs {
				ok = ok && strings.Contains(l, s)
			}
			if ok {
				if seen++; seen == n {
					p.mu.Unlock()
					return l
				}
			}
		}
		p.mu.Unlock()
		select {
		case <-p.poke:
		case <-p.done:
			select {
			case <-p.poke:
				continue // the last lines came with the exit: look at them first
			default:
			}
			p.t.Fatalf("%s exited (%v) before logging %q", p.name, p.err, subs)
		case <-deadline.C:
			p.t.Fatalf("%s did not log %q", p.name, subs)
		}
	}
}

// field returns the value of key=value in a slog text line.
func field(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if strings.HasPrefix(v, `"`) {
		if j := strings.Index(v[1:], `"`); j >= 0 {
			return v[1 : j+1]
		}
	}
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return v
}

// sigterm sends SIGTERM and waits for the process to exit, returning its exit error.
func (p *proc) sigterm(ctx context.Context) error {
	p.t.Helper()
	// A process that a first SIGTERM is already draining may have exited.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatal(err)
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		p.t.Fatalf("%s still running after SIGTERM: %v", p.name, ctx.Err())
		return nil
	}
}

// startLobby starts a lobby command and returns it with its WebSocket URL.
func startLobby(t *testing.T, args ...string) (*proc, string) {
	t.Helper()
	p := startProc(t, "lobby", nil, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	addr := field(p.waitLine(1, "lobby listening"), "addr")
	return p, "ws://" + addr + "/ws"
}

// startHost starts the host command on loopback and returns it with its first room
// and its HTTP address.
func startHost(t *testing.T, lobbies string, args ...string) (p *proc, room, httpAddr string) {
	t.Helper()
	p = startProc(t, "host", nil, append([]string{"-lobby", lobbies, "-udp", "127.0.0.1:0", "-loopback", "-http", "127.0.0.1:0"}, args...)...)
	httpAddr = field(p.waitLine(1, "host started"), "http")
	room = field(p.waitLine(1, "arena room open"), "room")
	return p, room, httpAddr
}
