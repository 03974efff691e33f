package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// loadGen is a running load generator speaking the scale-load line protocol.
type loadGen struct {
	Name  string
	in    io.WriteCloser
	lines chan string
	wait  func() error // waits for the generator to exit
	kill  func()
	once  sync.Once
}

// startLoadGen starts a load generator whose clients signal through url.
type startLoadGen func(ctx context.Context, url string, cfg scaleConfig) (*loadGen, error)

// execLoadGen re-executes this binary with the hidden scale-load command, so
// that the clients' CPU and memory are not the host's.
func execLoadGen(ctx context.Context, url string, cfg scaleConfig) (*loadGen, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{scaleLoadCommand, "-signal", url,
		"-input-rate", strconv.Itoa(cfg.InputRate), "-dialers", strconv.Itoa(cfg.Dialers)}
	if cfg.Profile != "" {
		args = append(args, "-profile", filepath.Join(cfg.Profile, "loadgen"))
	}
	if cfg.LoadNice != 0 {
		// coreutils nice: every thread of the child inherits the priority.
		args = append([]string{"-n", strconv.Itoa(cfg.LoadNice), exe}, args...)
		exe = "nice"
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr
	cmd.Env = os.Environ()
	if cfg.LoadProcs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(cfg.LoadProcs))
	}
	if cfg.LoadGOGC != "" {
		cmd.Env = append(cmd.Env, "GOGC="+cfg.LoadGOGC)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &loadGen{Name: fmt.Sprintf("pid %d", cmd.Process.Pid), in: stdin, wait: cmd.Wait,
		kill: func() { _ = cmd.Process.Kill() }}
	g.readLines(stdout)
	return g, nil
}

// inProcessLoadGen runs the load generator on goroutines of this process (for
// tests: a test binary cannot re-execute itself as the bench command).
func inProcessLoadGen(ctx context.Context, url string, cfg scaleConfig) (*loadGen, error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		err := serveLoad(ctx, loadOpts{URL: url, InputRate: cfg.InputRate, Dialers: cfg.Dialers}, inR, outW)
		outW.Close()
		inR.Close()
		done <- err
	}()
	g := &loadGen{Name: "in process", in: inW, wait: func() error { return <-done }, kill: cancel}
	g.readLines(outR)
	return g, nil
}

// readLines forwards the generator's output lines until it closes.
func (g *loadGen) readLines(r io.Reader) {
	g.lines = make(chan string, 64)
	go func() {
		defer close(g.lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case g.lines <- sc.Text():
			default: // nobody asked for it: drop
			}
		}
	}()
}

// Ask sends a command and waits for the answer line starting with wantPrefix.
func (g *loadGen) Ask(ctx context.Context, req, wantPrefix string, timeout time.Duration) (string, error) {
	if _, err := fmt.Fprintln(g.in, req); err != nil {
		return "", fmt.Errorf("load generator: %w", err)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case l, ok := <-g.lines:
			if !ok {
				return "", errors.New("load generator exited")
			}
			if rest, ok := strings.CutPrefix(l, wantPrefix+" "); ok {
				return rest, nil
			}
			if rest, ok := strings.CutPrefix(l, "error "); ok {
				return "", fmt.Errorf("load generator: %s", rest)
			}
		case <-deadline.C:
			return "", fmt.Errorf("load generator: no %q answer in %v", wantPrefix, timeout)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// Stop asks the generator to quit, and kills it if it has not exited in 20 s.
func (g *loadGen) Stop() error {
	var err error
	g.once.Do(func() {
		fmt.Fprintln(g.in, "quit")
		g.in.Close()
		done := make(chan error, 1)
		go func() { done <- g.wait() }()
		select {
		case err = <-done:
		case <-time.After(20 * time.Second):
			g.kill()
			err = <-done
		}
		for range g.lines { // let the reader finish
		}
	})
	return err
}
