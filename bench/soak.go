package main

// go run ./bench soak: churn against one arena host. An arena (host and lobby, in
// this process) opens a room; N client slots each join through the lobby, play
// (bot inputs every tick, a rename command every second), then leave politely or
// are killed (their network goes dark and they vanish without a bye), and join
// again, for the run's duration. WebRTC runs on a simulated network (internal/netsim)
// with the chosen condition, signaling on loopback WebSockets. The process's heap,
// goroutines and open file descriptors are sampled over time; at the end everyone
// leaves, and the figures must return to the baseline taken before the churn.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gonum.org/v1/plot/plotter"

	arenabot "github.com/volleynet/volley/examples/arena/bot"
	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/server"
	"github.com/volleynet/volley/internal/netsim"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/netcode"
)

func init() { commands["soak"] = runSoak }

// soakConfig holds the soak command's flags.
type soakConfig struct {
	outputFlags
	Clients   int
	Duration  time.Duration
	Sample    time.Duration
	LifeMin   time.Duration
	LifeMax   time.Duration
	KillShare float64
	Cond      condition
	Seed      uint64
	RTOMax    time.Duration // netcode.TransportConfig.SCTPRTOMax (0: netcode's default)
	// Tolerances of the verdict: how far above the baseline the figures may end.
	HeapSlack      float64 // MiB
	GoroutineSlack int
	FDSlack        int
}

func parseSoakFlags(args []string) (soakConfig, error) {
	var c soakConfig
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	c.outputFlags.register(fs)
	fs.IntVar(&c.Clients, "clients", 16, "client slots: each joins, plays, leaves or is killed, and joins again")
	minutes := fs.Float64("minutes", 1, "how long the churn lasts")
	fs.DurationVar(&c.Sample, "sample", 5*time.Second, "how often heap, goroutines and open fds are sampled")
	fs.DurationVar(&c.LifeMin, "life-min", 3*time.Second, "shortest session")
	fs.DurationVar(&c.LifeMax, "life-max", 20*time.Second, "longest session")
	fs.Float64Var(&c.KillShare, "kill", 0.3, "share of sessions that end killed (no bye; the host must time them out) instead of leaving")
	cond := fs.String("condition", "loss5_rtt50_jitter10", "simulated network between the clients and the host (lossN_rttMS_jitterMS)")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the network and the clients' choices")
	fs.DurationVar(&c.RTOMax, "sctp-rto-max", 0, "SCTP retransmission timeout cap of the host and the clients (0: netcode's default)")
	fs.Float64Var(&c.HeapSlack, "heap-slack", 8, "MiB the live heap may end above the baseline and still count as flat (runs of about 1,000 sessions that left no goroutine or fd behind ended 1.4-5.5 MiB above it; a leak of 8 KiB a session shows over 1,000)")
	fs.IntVar(&c.GoroutineSlack, "goroutine-slack", 2, "goroutines the process may end with above the baseline and still count as flat")
	fs.IntVar(&c.FDSlack, "fd-slack", 2, "open fds the process may end with above the baseline and still count as flat")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	c.Duration = time.Duration(*minutes * float64(time.Minute))
	var err error
	if c.Cond, err = parseCondition(*cond); err != nil {
		return c, err
	}
	c.outputFlags.resolve()
	switch {
	case c.Clients <= 0 || c.Clients > 200:
		return c, errors.New("-clients must be in 1..200 (one simulated address each)")
	case c.Duration <= 0 || c.Sample <= 0:
		return c, errors.New("-minutes and -sample must be positive")
	case c.LifeMin <= 0 || c.LifeMax < c.LifeMin:
		return c, errors.New("need 0 < -life-min <= -life-max")
	case c.KillShare < 0 || c.KillShare > 1:
		return c, errors.New("-kill must be in [0, 1]")
	}
	return c, nil
}

// soakSample is one measurement of the process.
type soakSample struct {
	At         time.Duration // since the churn started (negative: before)
	Clients    int           // sessions the host holds
	Joins      uint64        // sessions started so far
	Leaves     uint64        // sessions ended politely so far
	Kills      uint64        // sessions killed so far
	Failures   uint64        // joins that failed or sessions that ended on their own
	CutShort   uint64        // joins still connecting when the run ended (the host may have a session)
	HeapBytes  uint64        // live heap and stacks after two collections
	Goroutines int
	FDs        int
}

// soakResult is a whole run.
type soakResult struct {
	Baseline, After soakSample
	Series          []soakSample
	Departures      map[string]uint64 // host departures by reason, over the run
	Failures        map[string]uint64 // failed joins and sessions that ended on their own, by error
	Lost            float64           // share of packets the simulated network dropped
	Settle          time.Duration
}

// Flat reports whether every figure returned to the baseline within the slack.
func (r soakResult) Flat(c soakConfig) bool {
	return r.heapGrowthMiB() <= c.HeapSlack &&
		r.After.Goroutines-r.Baseline.Goroutines <= c.GoroutineSlack &&
		r.After.FDs-r.Baseline.FDs <= c.FDSlack
}

func (r soakResult) heapGrowthMiB() float64 {
	return (float64(r.After.HeapBytes) - float64(r.Baseline.HeapBytes)) / (1 << 20)
}

func runSoak(args []string) error {
	cfg, err := parseSoakFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	prog := newProgress(cfg.Quiet)
	res, err := measureSoak(ctx, cfg, prog)
	if err != nil {
		return err
	}
	if err := writeSoakOutputs(os.Stdout, cfg, res, prog); err != nil {
		return err
	}
	if !res.Flat(cfg) {
		path := filepath.Join(cfg.Out, "soak_goroutines.txt")
		if err := dumpGoroutines(path); err != nil {
			return err
		}
		return fmt.Errorf("resources did not return to the baseline after the churn (goroutines in %s)", path)
	}
	return nil
}

// dumpGoroutines writes every goroutine's stack, grouped, to path.
func dumpGoroutines(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("goroutine").WriteTo(f, 1); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// liveHeap returns the bytes of live heap objects and goroutine stacks after two
// collections (the second empties what sync.Pools kept from the first).
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

// writeHeapProfile writes the live heap profile to path (compare two with
// go tool pprof -base).
func writeHeapProfile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// openFDs counts this process's open file descriptors (Linux; -1 elsewhere).
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory being read
}

// soakRun is the state of one run: the arena, the network and the counters.
type soakRun struct {
	cfg    soakConfig
	arena  *server.Arena
	nw     *netsim.Network
	nets   []*netsim.Net // one per slot, reused by its successive sessions
	start  time.Time
	joins  atomic.Uint64
	leaves atomic.Uint64
	kills  atomic.Uint64
	nfail  atomic.Uint64
	cut    atomic.Uint64

	mu    sync.Mutex
	fails map[string]uint64 // failures by error text
}

func (s *soakRun) sample() soakSample {
	return soakSample{
		At:         time.Since(s.start),
		Clients:    s.arena.Host.Server().LoopStats().Clients,
		Joins:      s.joins.Load(),
		Leaves:     s.leaves.Load(),
		Kills:      s.kills.Load(),
		Failures:   s.nfail.Load(),
		CutShort:   s.cut.Load(),
		HeapBytes:  liveHeap(),
		Goroutines: runtime.NumGoroutine(),
		FDs:        openFDs(),
	}
}

func (s *soakRun) fail(err error) {
	s.nfail.Add(1)
	s.mu.Lock()
	s.fails[err.Error()]++
	s.mu.Unlock()
}

// measureSoak runs the soak: warm-up, baseline, churn with samples, drain, and the
// final measurement once the process has settled.
func measureSoak(ctx context.Context, cfg soakConfig, prog *progress) (soakResult, error) {
	var res soakResult
	nw, err := netsim.New(netsim.Config{Delay: cfg.Cond.OneWay(), Jitter: cfg.Cond.Jitter, Seed: int64(cfg.Seed)})
	if err != nil {
		return res, err
	}
	defer nw.Close()
	hostNet, err := nw.NewNet()
	if err != nil {
		return res, err
	}
	departures := &departureCounter{counts: map[string]uint64{}}
	arena, err := server.Start(ctx, server.Config{
		NoWeb:     true,
		Logger:    slog.New(departures),
		Capacity:  cfg.Clients + 8,
		Transport: netcode.TransportConfig{Net: hostNet, SCTPRTOMax: cfg.RTOMax},
		Netcode:   netcode.ServerConfig{MaxClients: 2*cfg.Clients + 8}, // killed sessions linger until they time out
	})
	if err != nil {
		return res, fmt.Errorf("arena: %w", err)
	}
	defer arena.Close()
	s := &soakRun{cfg: cfg, arena: arena, nw: nw, start: time.Now(), fails: map[string]uint64{}}
	for range cfg.Clients {
		n, err := nw.NewNet()
		if err != nil {
			return res, err
		}
		s.nets = append(s.nets, n)
	}
	nw.SetLoss(float64(cfg.Cond.Loss) / 100)

	// Warm-up: every slot joins, plays and leaves once, so that what the first use
	// of pion, the lobby and the game allocates for good, and the caches and pools
	// sized for this many sessions at once, are in the baseline.
	warm := cfg.Clients
	prog.Printf("warm-up: %d sessions on %s", warm, cfg.Cond)
	var wg sync.WaitGroup
	for i := range warm {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
			if err := s.session(ctx, i, rng, 2*time.Second, false); err != nil {
				s.fail(err)
			}
		})
	}
	wg.Wait()
	if err := s.drain(ctx); err != nil {
		return res, err
	}
	res.Baseline, _ = s.settle(ctx, soakSample{Goroutines: -1})
	res.Baseline.At = 0
	if err := writeHeapProfile(filepath.Join(cfg.Out, "soak_heap_baseline.pprof")); err != nil {
		return res, err
	}
	prog.Printf("baseline: heap %.1f MiB, %d goroutines, %d fds", mib(res.Baseline.HeapBytes), res.Baseline.Goroutines, res.Baseline.FDs)

	// Churn.
	s.start = time.Now()
	churn, stopChurn := context.WithTimeout(ctx, cfg.Duration)
	defer stopChurn()
	for i := range cfg.Clients {
		wg.Go(func() { s.slot(churn, i) })
	}
	tk := time.NewTicker(cfg.Sample)
	for sampling := true; sampling; {
		select {
		case <-churn.Done():
			sampling = false
		case <-tk.C:
			sm := s.sample()
			res.Series = append(res.Series, sm)
			prog.Printf("%3.0fs: %d clients, %d joins %d leaves %d kills %d failures, heap %.1f MiB, %d goroutines, %d fds",
				sm.At.Seconds(), sm.Clients, sm.Joins, sm.Leaves, sm.Kills, sm.Failures, mib(sm.HeapBytes), sm.Goroutines, sm.FDs)
		}
	}
	tk.Stop()
	prog.Printf("churn over; everyone leaves")
	wg.Wait()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	res.Series = append(res.Series, s.sample())
	if err := s.drain(ctx); err != nil {
		return res, err
	}
	settleStart := time.Now()
	res.After, _ = s.settle(ctx, res.Baseline)
	res.Settle = time.Since(settleStart)
	res.Series = append(res.Series, res.After)
	if err := writeHeapProfile(filepath.Join(cfg.Out, "soak_heap_after.pprof")); err != nil {
		return res, err
	}
	res.Departures = departures.snapshot()
	st := nw.Stats()
	if st.Sent > 0 {
		res.Lost = float64(st.Lost) / float64(st.Sent)
	}
	s.mu.Lock()
	res.Failures = maps.Clone(s.fails)
	s.mu.Unlock()
	prog.Printf("after: heap %.1f MiB (%+.1f), %d goroutines (%+d), %d fds (%+d), settled in %v",
		mib(res.After.HeapBytes), res.heapGrowthMiB(), res.After.Goroutines, res.After.Goroutines-res.Baseline.Goroutines,
		res.After.FDs, res.After.FDs-res.Baseline.FDs, res.Settle.Round(time.Millisecond))
	return res, nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// drain waits until the host holds no session (killed ones end when they time out).
func (s *soakRun) drain(ctx context.Context) error {
	h := s.arena.Host
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for h.Server().LoopStats().Clients > 0 {
		select {
		case <-h.Updated():
		case <-deadline.C:
			return fmt.Errorf("the host still holds %d sessions 2 minutes after the churn", h.Server().LoopStats().Clients)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// settle samples until the goroutines are back to the baseline's count (or for at
// most 30 s: pion's goroutines end a little after their connection) and returns the
// last sample. Nothing signals that every goroutine has ended, so it polls.
func (s *soakRun) settle(ctx context.Context, base soakSample) (soakSample, bool) {
	deadline := time.Now().Add(30 * time.Second)
	var last soakSample
	stableFor := 0
	for {
		sm := s.sample()
		if base.Goroutines >= 0 && sm.Goroutines <= base.Goroutines && sm.FDs <= base.FDs {
			return sm, true
		}
		// Without a baseline yet: settled once the count holds for three samples.
		if base.Goroutines < 0 && sm.Goroutines == last.Goroutines {
			if stableFor++; stableFor == 3 {
				return sm, true
			}
		} else {
			stableFor = 0
		}
		last = sm
		if time.Now().After(deadline) || sleepCtx(ctx, 500*time.Millisecond) != nil {
			return sm, false
		}
	}
}

// slot plays sessions one after another until ctx ends.
func (s *soakRun) slot(ctx context.Context, i int) {
	rng := rand.New(rand.NewPCG(s.cfg.Seed, uint64(i)+1000))
	for ctx.Err() == nil {
		life := s.cfg.LifeMin + time.Duration(rng.Int64N(int64(s.cfg.LifeMax-s.cfg.LifeMin)+1))
		kill := rng.Float64() < s.cfg.KillShare
		if err := s.session(ctx, i, rng, life, kill); err != nil {
			if ctx.Err() == nil {
				s.fail(err)
			} else {
				// The run ended while it joined: the host may already hold the
				// session and will see it leave, though it never counted as a join.
				s.cut.Add(1)
			}
		}
		// A short pause between sessions; a killed player's machine stays dark
		// during it, so nothing of the old session reaches the host.
		_ = sleepCtx(ctx, time.Duration(200+rng.IntN(800))*time.Millisecond)
		s.nets[i].SetBlackhole(false)
	}
}

// session joins through the lobby, plays for life (or until ctx ends) and leaves,
// or is killed: its network goes dark before it closes, so neither its bye nor
// anything else reaches the host, which must time it out.
func (s *soakRun) session(ctx context.Context, slot int, rng *rand.Rand, life time.Duration, kill bool) error {
	joinCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	lc, sig, _, err := client.JoinRoom(joinCtx, s.arena.LobbyURL, s.arena.RoomID, lobby.ClientConfig{})
	if err != nil {
		return err
	}
	defer lc.Close()
	name := fmt.Sprintf("soak%d", slot)
	sess, err := client.Connect(joinCtx, client.Config{Name: name,
		Netcode: netcode.ClientConfig{Transport: netcode.TransportConfig{Net: s.nets[slot], SCTPRTOMax: s.cfg.RTOMax}}}, sig)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	s.joins.Add(1)
	brain := arenabot.NewBrain(rng.Uint64())
	dt := 1 / float64(sess.Netcode().TickRate())
	tick := time.NewTicker(time.Duration(dt * float64(time.Second)))
	defer tick.Stop()
	end := time.NewTimer(life)
	defer end.Stop()
	var players []game.Player
	var err2 error
	for n := 0; err2 == nil; n++ {
		select {
		case <-ctx.Done():
			kill = false // the run is over: everyone leaves politely
			err2 = errSessionOver
		case <-end.C:
			err2 = errSessionOver
		case <-sess.Done():
			err2 = fmt.Errorf("session ended: %w", sess.Err())
		case <-tick.C:
			sess.Poll()
			if self, ok := sess.Self(); ok {
				players = sess.Players(players[:0])
				buttons, aim := brain.Think(self, players, dt)
				if err := sess.Input(buttons, aim); err != nil {
					err2 = err
				}
			}
			if n%int(1/dt) == 0 { // a command every second
				if err := sess.Netcode().Send(game.Command{Name: name + "-" + strconv.Itoa(n)}); err != nil {
					err2 = err
				}
			}
		}
	}
	if kill && errors.Is(err2, errSessionOver) {
		s.nets[slot].SetBlackhole(true)
		sess.Close()
		s.kills.Add(1)
		return nil
	}
	sess.Close()
	_ = lc.Leave(ctx)
	if errors.Is(err2, errSessionOver) {
		s.leaves.Add(1)
		return nil
	}
	return err2
}

var errSessionOver = errors.New("session over")

// soakRows turns a run into rows: one per figure per sample, and the verdict.
func soakRows(cfg soakConfig, r soakResult) []Row {
	cond := cfg.Cond.Name
	var rows []Row
	add := func(metric string, v float64, unit, note string, clients int) {
		rows = append(rows, Row{Condition: cond, Channel: "process", Metric: metric, Value: f(v), Unit: unit, Note: note, Clients: clients})
	}
	point := func(prefix string, sm soakSample, note string) {
		add(prefix+"heap", mib(sm.HeapBytes), "MiB", note, sm.Clients)
		add(prefix+"goroutines", float64(sm.Goroutines), "goroutines", note, sm.Clients)
		add(prefix+"fds", float64(sm.FDs), "fds", note, sm.Clients)
	}
	point("baseline_", r.Baseline, "before the churn, no client")
	for _, sm := range r.Series {
		point("", sm, fmt.Sprintf("t=%.0fs joins=%d leaves=%d kills=%d failures=%d", sm.At.Seconds(), sm.Joins, sm.Leaves, sm.Kills, sm.Failures))
	}
	point("after_", r.After, fmt.Sprintf("after the churn, every session gone; settled in %v", r.Settle.Round(time.Millisecond)))
	add("sessions", float64(r.After.Joins), "sessions", fmt.Sprintf("%d left, %d killed; host departures %v", r.After.Leaves, r.After.Kills, r.Departures), 0)
	add("failures", float64(r.After.Failures), "sessions", fmt.Sprint(r.Failures), 0)
	flat := 0.0
	if r.Flat(cfg) {
		flat = 1
	}
	add("flat_after_churn", flat, "bool", fmt.Sprintf("heap %+.1f MiB (slack %.1f), goroutines %+d (slack %d), fds %+d (slack %d)",
		r.heapGrowthMiB(), cfg.HeapSlack, r.After.Goroutines-r.Baseline.Goroutines, cfg.GoroutineSlack, r.After.FDs-r.Baseline.FDs, cfg.FDSlack), 0)
	return rows
}

// writeSoakOutputs prints the table (or JSON) and writes the CSV and chart.
func writeSoakOutputs(w io.Writer, cfg soakConfig, r soakResult, prog *progress) error {
	rows := soakRows(cfg, r)
	printed, errs := cfg.writeFiles(w, "soak", rows, func() ([]string, error) { return soakCharts(cfg, r) }, prog)
	if printed {
		return errors.Join(errs...)
	}
	fmt.Fprintf(w, "Soak, %s\n\nArena host and lobby in one process; %d client slots joining through the lobby, playing (inputs every tick, a command every second) for %v–%v, then leaving or (%.0f%%) killed, for %v on %s.\n\n",
		machineLine("go run ./bench soak "+strings.Join(os.Args[2:], " ")), cfg.Clients, cfg.LifeMin, cfg.LifeMax, cfg.KillShare*100, cfg.Duration, cfg.Cond)
	header := []string{"t s", "sessions", "joins", "leaves", "kills", "failures", "heap MiB", "goroutines", "fds"}
	line := func(label string, sm soakSample) []string {
		return []string{label, strconv.Itoa(sm.Clients), strconv.FormatUint(sm.Joins, 10), strconv.FormatUint(sm.Leaves, 10),
			strconv.FormatUint(sm.Kills, 10), strconv.FormatUint(sm.Failures, 10), fmt.Sprintf("%.1f", mib(sm.HeapBytes)),
			strconv.Itoa(sm.Goroutines), strconv.Itoa(sm.FDs)}
	}
	cells := [][]string{line("baseline", r.Baseline)}
	for _, sm := range r.Series[:len(r.Series)-1] {
		cells = append(cells, line(fmt.Sprintf("%.0f", sm.At.Seconds()), sm))
	}
	cells = append(cells, line("after", r.After))
	if err := writeMarkdown(w, header, cells); err != nil {
		errs = append(errs, err)
	}
	verdict := "flat"
	if !r.Flat(cfg) {
		verdict = "NOT flat"
	}
	fmt.Fprintf(w, "\nAfter the churn: heap %+.1f MiB, goroutines %+d, fds %+d against the baseline: %s (slack %.0f MiB, %d goroutines, %d fds). Host departures by reason: %v. Network lost %.1f%% of packets.\n",
		r.heapGrowthMiB(), r.After.Goroutines-r.Baseline.Goroutines, r.After.FDs-r.Baseline.FDs, verdict,
		cfg.HeapSlack, cfg.GoroutineSlack, cfg.FDSlack, r.Departures, r.Lost*100)
	for e, n := range r.Failures {
		fmt.Fprintf(w, "Failure ×%d: %s\n", n, e)
	}
	return errors.Join(errs...)
}

// soakCharts draws heap, goroutines and fds over time.
func soakCharts(cfg soakConfig, r soakResult) ([]string, error) {
	var heap, gor, fds, sess plotter.XYs
	for _, sm := range r.Series {
		x := sm.At.Seconds()
		heap = append(heap, plotter.XY{X: x, Y: mib(sm.HeapBytes)})
		gor = append(gor, plotter.XY{X: x, Y: float64(sm.Goroutines) / 10})
		fds = append(fds, plotter.XY{X: x, Y: float64(sm.FDs)})
		sess = append(sess, plotter.XY{X: x, Y: float64(sm.Clients)})
	}
	path := filepath.Join(cfg.Charts, "soak_resources.png")
	err := saveLineChart(path, "Process resources during churn (last point: everyone gone)", "seconds", "",
		[]xySeries{{"heap MiB", heap}, {"goroutines / 10", gor}, {"open fds", fds}, {"sessions on the host", sess}},
		map[string]float64{"baseline heap MiB": mib(r.Baseline.HeapBytes)}, false)
	if err != nil {
		return nil, err
	}
	return []string{path}, nil
}

// departureCounter is a slog.Handler that counts the arena host's "player left" and
// "player dropped" records by netcode reason: the game's own view of the departures.
type departureCounter struct {
	mu     sync.Mutex
	counts map[string]uint64
}

var departureReasons = []error{netcode.ErrClientLeft, netcode.ErrTimeout, netcode.ErrConnectionLost, netcode.ErrClosed,
	netcode.ErrSlowConsumer, netcode.ErrFlood, netcode.ErrProtocol, netcode.ErrKicked}

func (d *departureCounter) Enabled(context.Context, slog.Level) bool { return true }
func (d *departureCounter) WithAttrs([]slog.Attr) slog.Handler       { return d }
func (d *departureCounter) WithGroup(string) slog.Handler            { return d }

func (d *departureCounter) Handle(_ context.Context, r slog.Record) error {
	var reason string
	switch r.Message {
	case "player left":
		reason = "left"
	case "player dropped":
		reason = "other"
		r.Attrs(func(a slog.Attr) bool {
			if err, ok := a.Value.Any().(error); ok && a.Key == "reason" {
				for _, want := range departureReasons {
					if errors.Is(err, want) {
						reason = strings.TrimPrefix(want.Error(), "netcode: ")
						break
					}
				}
			}
			return true
		})
	default:
		return nil
	}
	d.mu.Lock()
	d.counts[reason]++
	d.mu.Unlock()
	return nil
}

func (d *departureCounter) snapshot() map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.counts)
}
