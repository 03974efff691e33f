package main

// go run ./bench join: how long a player takes from joining a lobby room to its
// first decoded snapshot, over loopback, with everything real: the arena
// (examples/arena/server: the lobby service and the arena host behind it) and
// native netcode clients that join its room one after the other.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/server"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/netcode"
)

// joinConfig holds the join command's flags.
type joinConfig struct {
	outputFlags
	Joins   int
	Warmup  int
	Players int
	Timeout time.Duration
}

func parseJoinFlags(args []string) (joinConfig, error) {
	var c joinConfig
	fs := flag.NewFlagSet("join", flag.ContinueOnError)
	c.outputFlags.register(fs)
	fs.IntVar(&c.Joins, "joins", 60, "joins measured, one after the other")
	fs.IntVar(&c.Warmup, "warmup", 3, "joins before the measured ones (not counted)")
	fs.IntVar(&c.Players, "players", 0, "players that stay connected meanwhile (the room is not empty)")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Second, "how long one join may take")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if c.Joins <= 0 || c.Warmup < 0 || c.Players < 0 || c.Timeout <= 0 {
		return c, errors.New("need -joins > 0, -warmup >= 0, -players >= 0, -timeout > 0")
	}
	c.outputFlags.resolve()
	return c, nil
}

// joinTimes is what one join measured, from the lobby's join request.
type joinTimes struct {
	Joined   time.Duration // the lobby answered the join
	Welcome  time.Duration // netcode.Dial returned: channels open, welcome in
	Snapshot time.Duration // the first snapshot decoded
	Dial     time.Duration // connecting to the lobby, before the join (not included above)
}

// joinDists are the distributions of a run.
type joinDists struct {
	Joined, Welcome, Snapshot, FromDial *Dist
}

func runJoin(args []string) error {
	cfg, err := parseJoinFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	prog := newProgress(cfg.Quiet)
	d, err := measureJoins(ctx, cfg, prog)
	if err != nil {
		return err
	}
	return writeJoinOutputs(os.Stdout, cfg, d, prog)
}

// measureJoins starts the arena and joins its room cfg.Warmup + cfg.Joins times.
func measureJoins(ctx context.Context, cfg joinConfig, prog *progress) (joinDists, error) {
	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}
	a, err := server.Start(ctx, server.Config{NoWeb: true, Transport: loopback, Capacity: cfg.Players + 8})
	if err != nil {
		return joinDists{}, fmt.Errorf("arena: %w", err)
	}
	defer a.Close()
	d := joinDists{Joined: &Dist{}, Welcome: &Dist{}, Snapshot: &Dist{}, FromDial: &Dist{}}
	var stay []func()
	defer func() {
		for _, leave := range stay {
			leave()
		}
	}()
	for i := range cfg.Players {
		_, leave, err := joinOnce(ctx, a, cfg.Timeout)
		if err != nil {
			return d, fmt.Errorf("player %d: %w", i+1, err)
		}
		stay = append(stay, leave)
	}
	for i := range cfg.Warmup + cfg.Joins {
		t, leave, err := joinOnce(ctx, a, cfg.Timeout)
		if err != nil {
			return d, fmt.Errorf("join %d: %w", i+1, err)
		}
		leave()
		if i < cfg.Warmup {
			continue
		}
		d.Joined.Add(t.Joined)
		d.Welcome.Add(t.Welcome)
		d.Snapshot.Add(t.Snapshot)
		d.FromDial.Add(t.Dial + t.Snapshot)
		prog.Tick("join %d/%d: first snapshot %.1f ms after the join", i+1-cfg.Warmup, cfg.Joins, float64(t.Snapshot)/float64(time.Millisecond))
	}
	return d, nil
}

// joinOnce connects to the arena's lobby, joins its room, connects to its host and
// waits for the first decoded snapshot. leave closes the client and the lobby
// connection.
func joinOnce(ctx context.Context, a *server.Arena, timeout time.Duration) (joinTimes, func(), error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var t joinTimes
	t0 := time.Now()
	lc, err := lobby.Dial(ctx, a.LobbyURL, lobby.ClientConfig{})
	if err != nil {
		return t, nil, fmt.Errorf("lobby: %w", err)
	}
	start := time.Now()
	t.Dial = start.Sub(t0)
	if _, err := lc.Join(ctx, a.RoomID, ""); err != nil {
		lc.Close()
		return t, nil, fmt.Errorf("join: %w", err)
	}
	t.Joined = time.Since(start)
	c, err := netcode.Dial(ctx, netcode.ClientConfig{
		Registry:  game.NewRegistry(),
		Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}},
	}, lc.HostSignaler())
	if err != nil {
		lc.Close()
		return t, nil, fmt.Errorf("dial: %w", err)
	}
	t.Welcome = time.Since(start)
	leave := func() {
		c.Close()
		lc.Close()
	}
	select {
	case <-c.Updates():
		t.Snapshot = time.Since(start)
	case <-c.Done():
		leave()
		return t, nil, fmt.Errorf("client closed before its first snapshot: %w", c.Err())
	case <-ctx.Done():
		leave()
		return t, nil, fmt.Errorf("no snapshot: %w", ctx.Err())
	}
	return t, leave, nil
}

// joinTarget is the target for the median join.
const joinTarget = 30 * time.Millisecond

func joinRows(d joinDists) []Row {
	row := func(dist *Dist, metric, note string) Row {
		r := dist.Row("loopback", "lobby+netcode", metric)
		r.Note = note
		return r
	}
	return []Row{
		row(d.Joined, "join_to_joined", "lobby join request until the lobby's answer"),
		row(d.Welcome, "join_to_welcome", "join request until netcode.Dial returned (ICE, DTLS, SCTP, channels open, welcome)"),
		row(d.Snapshot, "join_to_first_snapshot", "join request until the first snapshot decoded"),
		row(d.FromDial, "lobby_dial_to_first_snapshot", "lobby WebSocket dial, join, connect, first snapshot"),
	}
}

func writeJoinOutputs(w io.Writer, cfg joinConfig, d joinDists, prog *progress) error {
	rows := joinRows(d)
	printed, errs := cfg.writeFiles(w, "join", rows, func() ([]string, error) { return nil, nil }, prog)
	if printed {
		return errors.Join(errs...)
	}
	fmt.Fprintf(w, "Join, %s\n\nThe arena (lobby and host) and %d joins by native clients, one after the other, over loopback; %d other players connected.\n\n",
		machineLine("go run ./bench join "+strings.Join(os.Args[2:], " ")), cfg.Joins, cfg.Players)
	h, cells := latencyTable(rows)
	if err := writeMarkdown(w, h, cells); err != nil {
		errs = append(errs, err)
	}
	p50 := d.Snapshot.Percentile(50)
	verdict := "PASS"
	if p50 > float64(joinTarget)/float64(time.Millisecond) {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\n- %s: join to first snapshot p50 %.1f ms, p99 %.1f ms over %d joins (want p50 ≤ %v)\n",
		verdict, p50, d.Snapshot.Percentile(99), d.Snapshot.Len(), joinTarget)
	return errors.Join(errs...)
}
