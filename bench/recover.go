package main

// Connection lifecycle: how long a session takes to come back from a network outage
// (an ICE restart, or the old path recovering) and from a hard client restart (a new
// client resuming the session with its token), over pion's virtual network.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/volleynet/volley/internal/netsim"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// recoverConfig holds the recover command's flags.
type recoverConfig struct {
	outputFlags
	Trials         int
	Outages        []time.Duration
	Delay          time.Duration
	Settle         time.Duration
	Switch         bool
	Resume         bool
	Players        int
	TickRate       int
	SendRate       int
	QuietIntervals int
}

func parseRecoverFlags(args []string) (recoverConfig, error) {
	var c recoverConfig
	fs := flag.NewFlagSet("recover", flag.ContinueOnError)
	c.outputFlags.register(fs)
	outages := fs.String("outages", "3s,6s", "comma-separated blackhole lengths; an ICE restart starts 15 send intervals (0.5 s) into each (RestartConfig.Quiet)")
	fs.IntVar(&c.Trials, "trials", 20, "trials per scenario")
	fs.DurationVar(&c.Delay, "delay", 0, "one-way delay of the simulated network (0: loopback-like)")
	fs.DurationVar(&c.Settle, "settle", time.Second, "how long the session runs undisturbed between trials")
	fs.BoolVar(&c.Switch, "switch", true, "measure network switches (a new address): told by the application, and not told")
	fs.IntVar(&c.QuietIntervals, "quiet", 0, "the client's RestartConfig.Quiet: send intervals of silence before it restarts ICE (0: the default, 15; -1: off, ICE alone notices)")
	fs.BoolVar(&c.Resume, "resume", true, "measure resumption after a hard client restart")
	fs.IntVar(&c.Players, "players", 16, "arena trace players in the world, for realistic snapshots")
	fs.IntVar(&c.TickRate, "tick", 60, "host tick rate (Hz)")
	fs.IntVar(&c.SendRate, "send", 30, "snapshot send rate (Hz)")
	verbose := fs.Bool("v", false, "log the host's and the client's connection events (ICE restarts, suspensions) on stderr")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if *verbose {
		dbgLog = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	for _, s := range strings.Split(*outages, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("bad outage %q", s)
		}
		c.Outages = append(c.Outages, d)
	}
	if c.Trials <= 0 || c.TickRate <= 0 || c.SendRate <= 0 || c.SendRate > c.TickRate || c.Players <= 0 || c.Players > 255 {
		return c, errors.New("need positive -trials, 0 < -send <= -tick and 0 < -players <= 255")
	}
	c.outputFlags.resolve()
	return c, nil
}

// runRecover measures recovery from outages and network switches, and resumption
// after a hard restart.
func runRecover(args []string) error {
	cfg, err := parseRecoverFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	prog := newProgress(cfg.Quiet)
	var rows []Row
	var dists []cdfSeries
	var errs []error
	add := func(name, metric string, d *Dist, note string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		if d.Len() == 0 {
			return
		}
		r := d.Row(name, "netcode", metric)
		r.Note = note
		rows = append(rows, r)
		dists = append(dists, cdfSeries{Name: name, Dist: d, Color: len(dists)})
	}
	for _, o := range cfg.Outages {
		name := fmt.Sprintf("blackhole %v", o)
		prog.Printf("%s: %d trials", name, cfg.Trials)
		d, st, err := measureOutage(ctx, cfg, prog, func(l *recoverLink) (func(), error) {
			l.nw.SetLoss(1)
			t := time.NewTimer(o)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			return func() { l.nw.SetLoss(0) }, ctx.Err()
		})
		add(name, "recovery", d, fmt.Sprintf("from the network's return to the first snapshot decoded; ICE restarts %d (%d failed, %d episodes started by the quiet watch)", st.Restarts, st.RestartsFailed, st.QuietRestarts), err)
	}
	if cfg.Switch {
		for _, tell := range []bool{true, false} {
			name := "network switch, told"
			note := "from the new address up (the application calls RestartICE, as on a browser's online event) to the first snapshot decoded"
			if !tell {
				name = "network switch, not told"
				note = "from the new address up to the first snapshot decoded: nothing tells the client, which restarts once it has heard nothing for Quiet send intervals"
				if cfg.QuietIntervals < 0 {
					note = "from the new address up to the first snapshot decoded: nothing tells the client and its quiet watch is off (-quiet -1): it restarts once ICE says disconnected (3 s without traffic) and Restart.After (1 s) have passed"
				}
			}
			prog.Printf("%s: %d trials", name, cfg.Trials)
			d, st, err := measureOutage(ctx, cfg, prog, func(l *recoverLink) (func(), error) {
				return func() {
					_ = l.roam.Switch()
					if tell {
						l.c.RestartICE()
					}
				}, nil
			})
			add(name, "recovery", d, fmt.Sprintf("%s; ICE restarts %d (%d failed, %d episodes started by the quiet watch)", note, st.Restarts, st.RestartsFailed, st.QuietRestarts), err)
		}
	}
	if cfg.Switch {
		name := "ICE restart on a working path"
		prog.Printf("%s: %d trials", name, cfg.Trials)
		d, st, err := measureFalseAlarm(ctx, cfg, prog)
		add(name, "gap", d, fmt.Sprintf("the longest gap between decoded snapshots in the second after RestartICE on a healthy path (what a false alarm of the quiet watch costs; the send interval is %v); ICE restarts %d (%d failed)", time.Second/time.Duration(cfg.SendRate), st.Restarts, st.RestartsFailed), err)
	}
	if cfg.Resume {
		prog.Printf("hard restart and resume: %d trials", cfg.Trials)
		d, err := measureResume(ctx, cfg, prog)
		add("hard restart, resume", "resume", d, "from a new client's Dial with the lost one's ResumeState to its first snapshot decoded", err)
	}
	if len(rows) == 0 {
		return errors.Join(errs...)
	}
	if werr := writeRecoverOutputs(os.Stdout, cfg, rows, dists, prog); werr != nil {
		errs = append(errs, werr)
	}
	return errors.Join(errs...)
}

// recoverLink is one host and one client over a simulated network; the client's
// address can be switched.
type recoverLink struct {
	nw    *netsim.Network
	roam  *netsim.Roaming
	srv   *netcode.Server
	c     *netcode.Client
	reg   *snapshot.Registry
	host  netcode.TransportConfig
	quiet int // the client's RestartConfig.Quiet
}

func newRecoverLink(ctx context.Context, cfg recoverConfig, seed int64) (*recoverLink, error) {
	nw, err := netsim.New(netsim.Config{Delay: cfg.Delay, Seed: seed})
	if err != nil {
		return nil, err
	}
	l := &recoverLink{nw: nw, quiet: cfg.QuietIntervals}
	fail := func(err error) (*recoverLink, error) {
		l.close()
		return nil, err
	}
	if l.reg, err = arenaRegistry(); err != nil {
		return fail(err)
	}
	hostNet, err := nw.NewNet()
	if err != nil {
		return fail(err)
	}
	l.host = netcode.TransportConfig{Net: hostNet}
	world := newArenaWorld(l.reg, cfg.Players, uint64(seed))
	l.srv, err = netcode.NewServer(netcode.ServerConfig{
		Registry:  l.reg,
		Transport: l.host,
		TickRate:  cfg.TickRate,
		SendRate:  cfg.SendRate,
		Step:      func(t *netcode.Tick) { _ = world.StepInto(t.World) },
		Logger:    dbgLog,
	})
	if err != nil {
		return fail(err)
	}
	if l.roam, err = nw.NewRoaming(); err != nil {
		return fail(err)
	}
	if l.c, err = l.dial(ctx, l.roam, nil); err != nil {
		return fail(err)
	}
	return l, nil
}

// dial connects a client over net through an in-process signaling pipe.
func (l *recoverLink) dial(ctx context.Context, net *netsim.Roaming, resume *netcode.ResumeState) (*netcode.Client, error) {
	hostSig, clientSig := signaling.Pipe()
	accepted := make(chan error, 1)
	go func() {
		_, err := l.srv.Accept(ctx, hostSig)
		accepted <- err
	}()
	c, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: l.reg, Transport: netcode.TransportConfig{Net: net}, Resume: resume, Logger: dbgLog,
		Restart: netcode.RestartConfig{Quiet: l.quiet}}, clientSig)
	if aerr := <-accepted; err == nil && aerr != nil {
		c.Close()
		err = aerr
	}
	return c, err
}

func (l *recoverLink) close() {
	if l.c != nil {
		l.c.Close()
	}
	if l.srv != nil {
		l.srv.Close()
	}
	_ = l.nw.Close()
}

// nextSnapshot waits for the client's next decoded snapshot after since (draining
// older wake-ups first) and returns when it came.
func nextSnapshot(ctx context.Context, c *netcode.Client, limit time.Duration) (time.Time, error) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-c.Updates():
		return time.Now(), nil
	case <-c.Done():
		return time.Time{}, fmt.Errorf("client ended: %w", c.Err())
	case <-t.C:
		return time.Time{}, fmt.Errorf("no snapshot within %v", limit)
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// settle lets the session run undisturbed for d and checks snapshots flow.
func settle(ctx context.Context, c *netcode.Client, d time.Duration) error {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if _, err := nextSnapshot(ctx, c, 10*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// measureOutage runs the trials of one outage on one long-lived session: cut runs the
// outage and returns the function that ends it (the network comes back); the time
// from that moment to the next decoded snapshot is one sample.
func measureOutage(ctx context.Context, cfg recoverConfig, prog *progress, cut func(*recoverLink) (func(), error)) (*Dist, netcode.Stats, error) {
	d := &Dist{}
	l, err := newRecoverLink(ctx, cfg, 1)
	if err != nil {
		return d, netcode.Stats{}, err
	}
	defer l.close()
	for i := range cfg.Trials {
		if err := settle(ctx, l.c, cfg.Settle); err != nil {
			return d, l.c.Stats(), fmt.Errorf("trial %d: before the outage: %w", i+1, err)
		}
		restore, err := cut(l)
		if err != nil {
			return d, l.c.Stats(), err
		}
		// Nothing decodes while the network is down; drop a wake-up left over
		// from before it.
		select {
		case <-l.c.Updates():
		default:
		}
		back := time.Now()
		restore()
		at, err := nextSnapshot(ctx, l.c, 30*time.Second)
		if err != nil {
			return d, l.c.Stats(), fmt.Errorf("trial %d: after the outage: %w", i+1, err)
		}
		d.Add(at.Sub(back))
		prog.Tick("trial %d/%d: %v", i+1, cfg.Trials, at.Sub(back).Round(time.Millisecond))
	}
	return d, l.c.Stats(), nil
}

// measureFalseAlarm restarts ICE on a path that works, trial after trial: one sample
// is the longest gap between decoded snapshots in the second after RestartICE.
func measureFalseAlarm(ctx context.Context, cfg recoverConfig, prog *progress) (*Dist, netcode.Stats, error) {
	d := &Dist{}
	l, err := newRecoverLink(ctx, cfg, 3)
	if err != nil {
		return d, netcode.Stats{}, err
	}
	defer l.close()
	for i := range cfg.Trials {
		if err := settle(ctx, l.c, cfg.Settle); err != nil {
			return d, l.c.Stats(), fmt.Errorf("trial %d: before the restart: %w", i+1, err)
		}
		last, err := nextSnapshot(ctx, l.c, 10*time.Second)
		if err != nil {
			return d, l.c.Stats(), err
		}
		l.c.RestartICE()
		var gap time.Duration
		for end := time.Now().Add(time.Second); last.Before(end); {
			at, err := nextSnapshot(ctx, l.c, 10*time.Second)
			if err != nil {
				return d, l.c.Stats(), fmt.Errorf("trial %d: after the restart: %w", i+1, err)
			}
			gap = max(gap, at.Sub(last))
			last = at
		}
		d.Add(gap)
		prog.Tick("trial %d/%d: %v", i+1, cfg.Trials, gap.Round(time.Millisecond))
	}
	return d, l.c.Stats(), nil
}

// measureResume restarts the client hard, trial after trial: its address is cut off
// (it can say nothing more, as a process that died), and a new client on a new
// address resumes the session with the lost one's ResumeState. One sample is the time
// from the new client's Dial to its first decoded snapshot.
func measureResume(ctx context.Context, cfg recoverConfig, prog *progress) (*Dist, error) {
	d := &Dist{}
	l, err := newRecoverLink(ctx, cfg, 2)
	if err != nil {
		return d, err
	}
	defer l.close()
	var closing sync.WaitGroup // lost clients saying a goodbye nobody hears
	defer closing.Wait()
	for i := range cfg.Trials {
		if err := settle(ctx, l.c, cfg.Settle); err != nil {
			return d, fmt.Errorf("trial %d: before the restart: %w", i+1, err)
		}
		st := l.c.ResumeState()
		if st == nil {
			return d, fmt.Errorf("trial %d: no resume state", i+1)
		}
		old, oldRoam := l.c, l.roam
		if err := oldRoam.Switch(); err != nil { // the old process is gone
			return d, err
		}
		roam, err := l.nw.NewRoaming()
		if err != nil {
			return d, err
		}
		start := time.Now()
		c, err := l.dial(ctx, roam, st)
		if err != nil {
			old.Close()
			return d, fmt.Errorf("trial %d: resume: %w", i+1, err)
		}
		at, err := nextSnapshot(ctx, c, 30*time.Second)
		l.c, l.roam = c, roam
		closing.Go(func() { old.Close() }) // its goodbye goes nowhere: do not wait for it here
		if err != nil {
			return d, fmt.Errorf("trial %d: after the resume: %w", i+1, err)
		}
		d.Add(at.Sub(start))
		prog.Tick("trial %d/%d: %v", i+1, cfg.Trials, at.Sub(start).Round(time.Millisecond))
	}
	return d, nil
}

// writeRecoverOutputs writes the CSV and the chart, and prints the table.
func writeRecoverOutputs(w io.Writer, cfg recoverConfig, rows []Row, dists []cdfSeries, prog *progress) error {
	printed, errs := cfg.writeFiles(w, "recover", rows, func() ([]string, error) {
		path := filepath.Join(cfg.Charts, "recover_cdf.png")
		if err := os.MkdirAll(cfg.Charts, 0o755); err != nil {
			return nil, err
		}
		return []string{path}, saveCDFChart(path, "Recovery after an outage, and resumption after a hard restart", dists)
	}, prog)
	if printed {
		return errors.Join(errs...)
	}
	fmt.Fprintf(w, "Recovery and resumption, %s\n\n", machineLine("go run ./bench recover "+strings.Join(os.Args[2:], " ")))
	header := []string{"scenario", "trials", "p50 ms", "p99 ms", "max ms", "measured"}
	var cells [][]string
	for _, r := range rows {
		cells = append(cells, []string{r.Condition, fmt.Sprint(r.Samples), fmtMS(r.P50), fmtMS(r.P99), fmtMS(r.Max), r.Note})
	}
	if err := writeMarkdown(w, header, cells); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// dbgLog receives the host's and the client's connection events with -v.
var dbgLog *slog.Logger
