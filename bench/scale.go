package main

// go run ./bench scale: one arena host in this process, N netcode clients in a
// separate load-generating process (this binary re-executed with the hidden
// scale-load command), signaling over a loopback WebSocket. The load grows in
// steps; at each step the host measures its tick durations, CPU, memory,
// goroutines and traffic over a window.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"gonum.org/v1/plot/plotter"

	"github.com/volleynet/volley/examples/arena/host"
	"github.com/volleynet/volley/netcode"
)

func init() {
	// The load generator: a hidden command that main dispatches like the others.
	commands[scaleLoadCommand] = runScaleLoad
}

const scaleLoadCommand = "scale-load"

// scaleConfig holds the scale command's flags.
type scaleConfig struct {
	outputFlags
	Steps      []int
	Warmup     time.Duration
	Window     time.Duration
	TickRate   int
	SendRate   int
	InputRate  int
	Dialers    int
	ListenUDP  string
	StopFactor float64
	Profile    string
	Trace      bool
	LoadProcs  int
	LoadNice   int
	LoadGOGC   string
	Baseline   bool
}

func parseScaleFlags(args []string) (scaleConfig, error) {
	var c scaleConfig
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	c.outputFlags.register(fs)
	steps := fs.String("clients", "25,50,100,150,200,250,300", "comma-separated client counts to step through")
	fs.DurationVar(&c.Warmup, "warmup", 3*time.Second, "settling time after each step's clients connected")
	fs.DurationVar(&c.Window, "window", 8*time.Second, "measurement window per step")
	fs.IntVar(&c.TickRate, "tick", 60, "host tick rate (Hz)")
	fs.IntVar(&c.SendRate, "send", 30, "host snapshot send rate (Hz)")
	fs.IntVar(&c.InputRate, "input-rate", 30, "inputs per second each client sends")
	fs.IntVar(&c.Dialers, "dialers", 4, "clients the load generator connects at once")
	fs.StringVar(&c.ListenUDP, "listen-udp", "", "host UDP address for every client (netcode's ListenUDP, e.g. 127.0.0.1:0); default one port per client")
	fs.Float64Var(&c.StopFactor, "stop-at", 1, "stop stepping once tick or send lag p50 exceeds this many tick budgets (the host is saturated)")
	fs.IntVar(&c.LoadNice, "loadgen-nice", 0, "run the load generator at this nice level (e.g. 10: the host gets the CPU first, as if the clients were elsewhere)")
	fs.IntVar(&c.LoadProcs, "loadgen-procs", 0, "GOMAXPROCS of the load generator (0: Go's default, every core)")
	fs.StringVar(&c.LoadGOGC, "loadgen-gogc", "", "GOGC of the load generator (empty: Go's default)")
	fs.StringVar(&c.Profile, "profile", "", "write the host's CPU, block and mutex profiles into this directory (the load generator's into its loadgen/)")
	fs.BoolVar(&c.Trace, "trace", false, "with -profile, also write an execution trace (slows the host)")
	fs.BoolVar(&c.Baseline, "baseline", true, "after the netcode steps, measure raw pion at each step: as many PeerConnections carrying the same messages per second and sizes both ways, without netcode")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	for s := range strings.SplitSeq(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return c, fmt.Errorf("-clients: bad count %q", s)
		}
		if len(c.Steps) > 0 && n <= c.Steps[len(c.Steps)-1] {
			return c, fmt.Errorf("-clients: counts must increase")
		}
		c.Steps = append(c.Steps, n)
	}
	if len(c.Steps) == 0 {
		return c, errors.New("-clients: no counts")
	}
	c.outputFlags.resolve()
	if c.TickRate <= 0 || c.SendRate <= 0 || c.SendRate > c.TickRate || c.InputRate <= 0 {
		return c, errors.New("need 0 < -send <= -tick and -input-rate > 0")
	}
	return c, nil
}

// scaleStep is what one step measured.
type scaleStep struct {
	Clients      int
	Tick         *Dist   // tick work (netcode OnTick)
	Sent         *Dist   // from tick start until its snapshots were handed to pion (OnSent)
	HostCPU      float64 // cores used by the host process
	LoadCPU      float64 // cores used by the load generator
	HeapBytes    uint64  // heap + stacks in use after a GC
	MemPerClient float64 // bytes above the idle host, per client
	Goroutines   int
	GorPerClient float64
	OutPerClient float64 // netcode bytes per second to each client
	InPerClient  float64 // netcode bytes per second from each client
	// netcode messages per second to and from each client
	PktsOutPerClient, PktsInPerClient float64
	RawCPU                            float64 // cores used by the host process for raw pion at this step (0: not measured)
	SchedP99                          float64 // goroutine scheduling latency p99 in the host (ms)
	Late                              uint64  // ticks run late (catch-up) in the window
	Skipped                           uint64  // ticks skipped in the window
}

// runScale runs the scale benchmark.
func runScale(args []string) error {
	cfg, err := parseScaleFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	prog := newProgress(cfg.Quiet)
	if cfg.Profile != "" {
		stopProfiles, err := startProfiles(cfg.Profile, cfg.Trace)
		if err != nil {
			return err
		}
		defer stopProfiles()
	}
	steps, err := measureScale(ctx, cfg, execLoadGen, prog)
	if len(steps) == 0 {
		return err
	}
	if werr := writeScaleOutputs(os.Stdout, cfg, steps, prog); werr != nil {
		err = errors.Join(err, werr)
	}
	return err
}

// hostMem returns heap and stack bytes in use, after a collection.
func hostMem() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// cpuTime returns the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureScale starts the host and the load generator and steps through the
// client counts. It returns the steps measured even when a later one fails.
func measureScale(ctx context.Context, cfg scaleConfig, start startLoadGen, prog *progress) ([]scaleStep, error) {
	tc := newTickTimes()
	maxClients := cfg.Steps[len(cfg.Steps)-1]
	h, err := host.New(host.Config{Netcode: netcode.ServerConfig{
		TickRate:   cfg.TickRate,
		SendRate:   cfg.SendRate,
		MaxClients: maxClients + 16,
		ListenUDP:  cfg.ListenUDP,
		Transport:  netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}},
		OnTick:     tc.record,
		OnSent:     tc.recordSent,
	}})
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	defer h.Close()
	srv := h.Server()

	// The raw pion baseline's host side (idle until the baseline runs).
	raw, err := newRawPeers(cfg.TickRate)
	if err != nil {
		return nil, err
	}
	defer raw.Close()

	// Signaling: one loopback WebSocket per client (path /raw: a raw pion
	// connection of the baseline).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hostCtx, cancelHost := context.WithCancel(ctx)
	defer cancelHost()
	var connMu sync.Mutex
	var conns []*websocket.Conn
	var acceptErrs int
	var wg sync.WaitGroup
	upgrader := websocket.Upgrader{}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		connMu.Lock()
		conns = append(conns, conn)
		connMu.Unlock()
		// The session keeps reading late candidates from the signaler until it
		// ends; the connection is closed when the benchmark ends.
		actx, cancel := context.WithTimeout(hostCtx, 30*time.Second)
		defer cancel()
		if r.URL.Path == "/raw" {
			defer conn.Close()
			if err := raw.accept(actx, newWSSignaler(conn)); err != nil {
				connMu.Lock()
				acceptErrs++
				connMu.Unlock()
			}
			return
		}
		if err := h.Accept(actx, newWSSignaler(conn)); err != nil {
			connMu.Lock()
			acceptErrs++
			connMu.Unlock()
			conn.Close()
		}
	})}
	wg.Go(func() { _ = hs.Serve(ln) })
	defer func() {
		hs.Close()
		connMu.Lock()
		for _, c := range conns {
			c.Close()
		}
		connMu.Unlock()
		wg.Wait()
	}()

	// The load generator.
	gen, err := start(ctx, "ws://"+ln.Addr().String()+"/signal", cfg)
	if err != nil {
		return nil, fmt.Errorf("load generator: %w", err)
	}
	defer gen.Stop()
	ask := func(req, wantPrefix string, timeout time.Duration) (string, error) {
		return gen.Ask(ctx, req, wantPrefix, timeout)
	}

	budget := time.Second / time.Duration(cfg.TickRate)
	idleMem := hostMem()
	idleGoroutines := runtime.NumGoroutine()
	prog.Printf("host up: idle heap+stacks %.1f MB, %d goroutines; load generator %s", float64(idleMem)/1e6, idleGoroutines, gen.Name)
	var out []scaleStep
	for _, n := range cfg.Steps {
		prog.Printf("step: %d clients", n)
		start := time.Now()
		if _, err := ask(fmt.Sprintf("clients %d", n), "ready", 90*time.Second+time.Duration(n)*200*time.Millisecond); err != nil {
			return out, fmt.Errorf("%d clients: %w", n, err)
		}
		if got := len(srv.Clients()); got < n {
			connMu.Lock()
			failed := acceptErrs
			connMu.Unlock()
			return out, fmt.Errorf("%d clients: the host has %d (%d handshakes failed)", n, got, failed)
		}
		prog.Printf("%d clients connected in %.1fs; warming up %v", n, time.Since(start).Seconds(), cfg.Warmup)
		if err := sleepCtx(ctx, cfg.Warmup); err != nil {
			return out, err
		}
		loadCPU0, err := askCPU(ask)
		if err != nil {
			return out, err
		}
		ls0, cpu0, t0 := srv.LoopStats(), cpuTime(), time.Now()
		in0, out0, pin0, pout0 := trafficTotals(srv)
		sched0 := readSchedHist()
		tc.Take()
		prog.Printf("measuring %d clients for %v", n, cfg.Window)
		if err := sleepCtx(ctx, cfg.Window); err != nil {
			return out, err
		}
		ticks, sent := tc.Take()
		sched1 := readSchedHist()
		ls1, cpu1, t1 := srv.LoopStats(), cpuTime(), time.Now()
		in1, out1, pin1, pout1 := trafficTotals(srv)
		loadCPU1, err := askCPU(ask)
		if err != nil {
			return out, err
		}
		clients := len(srv.Clients())
		secs := t1.Sub(t0).Seconds()
		st := scaleStep{
			Clients:    n,
			Tick:       ticks,
			Sent:       sent,
			HostCPU:    (cpu1 - cpu0).Seconds() / secs,
			LoadCPU:    (loadCPU1 - loadCPU0).Seconds() / secs,
			Goroutines: runtime.NumGoroutine(),
			SchedP99:   sched1.percentileSince(sched0, 99),
			Late:       ls1.Late - ls0.Late,
			Skipped:    ls1.Skipped - ls0.Skipped,
		}
		if clients > 0 {
			st.OutPerClient = float64(out1-out0) / secs / float64(clients)
			st.InPerClient = float64(in1-in0) / secs / float64(clients)
			st.PktsOutPerClient = float64(pout1-pout0) / secs / float64(clients)
			st.PktsInPerClient = float64(pin1-pin0) / secs / float64(clients)
		}
		st.HeapBytes = hostMem()
		st.MemPerClient = (float64(st.HeapBytes) - float64(idleMem)) / float64(n)
		st.GorPerClient = float64(st.Goroutines-idleGoroutines) / float64(n)
		out = append(out, st)
		p50 := time.Duration(ticks.Percentile(50) * float64(time.Millisecond))
		prog.Printf("%d clients: tick p50 %.2f ms p99 %.2f ms (budget %v), snapshots sent p99 %.2f ms after the tick started, host CPU %.0f%%, load generator CPU %.0f%%, scheduling latency p99 %.2f ms",
			n, ticks.Percentile(50), ticks.Percentile(99), budget, sent.Percentile(99), st.HostCPU*100, st.LoadCPU*100, st.SchedP99)
		if clients < n {
			return out, fmt.Errorf("%d clients: only %d still connected after the window", n, clients)
		}
		sentP50 := time.Duration(sent.Percentile(50) * float64(time.Millisecond))
		if limit := time.Duration(cfg.StopFactor * float64(budget)); p50 > limit || sentP50 > limit {
			prog.Printf("tick or send lag p50 beyond %.1f budgets: saturated, stopping", cfg.StopFactor)
			break
		}
	}
	if !cfg.Baseline || len(out) == 0 {
		return out, nil
	}
	if _, err := ask("close", "closed", 60*time.Second); err != nil {
		return out, err
	}
	_ = h.Close()
	return out, measureRawBaseline(ctx, cfg, out, raw, ask, prog)
}

func askCPU(ask func(req, wantPrefix string, timeout time.Duration) (string, error)) (time.Duration, error) {
	s, err := ask("cpu", "cpu", 10*time.Second)
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("load generator: bad cpu answer %q", s)
	}
	return time.Duration(ns), nil
}

// trafficTotals sums netcode's byte and message counters over the connected clients.
func trafficTotals(srv *netcode.Server) (in, out, pktsIn, pktsOut uint64) {
	for _, id := range srv.Clients() {
		if st, ok := srv.ClientStats(id); ok {
			in += st.BytesIn
			out += st.BytesOut
			pktsIn += st.PacketsIn
			pktsOut += st.PacketsOut
		}
	}
	return in, out, pktsIn, pktsOut
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// scaleRows turns the steps into rows, with the largest count that held tick p99
// under half the budget.
func scaleRows(cfg scaleConfig, steps []scaleStep) []Row {
	half := float64(time.Second) / float64(cfg.TickRate) / 2 / float64(time.Millisecond)
	var rows []Row
	best := 0
	for _, s := range steps {
		cond := "loopback"
		tick := s.Tick.Row(cond, "netcode", "tick_ms")
		tick.Clients = s.Clients
		tick.Note = "tick work per tick (netcode ServerConfig.OnTick)"
		rows = append(rows, tick)
		sent := s.Sent.Row(cond, "netcode", "send_lag_ms")
		sent.Clients = s.Clients
		sent.Note = "from tick start until its snapshots were handed to pion (netcode ServerConfig.OnSent)"
		rows = append(rows, sent)
		val := func(metric string, v float64, unit string) {
			rows = append(rows, Row{Condition: cond, Channel: "netcode", Metric: metric, Clients: s.Clients, Value: f(v), Unit: unit})
		}
		p99 := s.Tick.Percentile(99)
		val("clients", float64(s.Clients), "clients")
		val("tick_p50_ms", s.Tick.Percentile(50), "ms")
		val("tick_p99_ms", p99, "ms")
		val("send_lag_p99_ms", s.Sent.Percentile(99), "ms")
		val("host_cpu", s.HostCPU*100, "% of one core")
		val("host_cpu_per_client", s.HostCPU*100/float64(s.Clients), "% of one core")
		val("loadgen_cpu", s.LoadCPU*100, "% of one core")
		val("mem_per_client", s.MemPerClient, "bytes")
		val("goroutines_per_client", s.GorPerClient, "goroutines")
		val("bytes_out_per_sec_per_client", s.OutPerClient, "B/s")
		val("bytes_in_per_sec_per_client", s.InPerClient, "B/s")
		val("late_ticks", float64(s.Late), "ticks")
		if s.RawCPU > 0 {
			val("raw_pion_cpu", s.RawCPU*100, "% of one core")
			val("raw_pion_cpu_per_conn", s.RawCPU*100/float64(s.Clients), "% of one core")
			val("host_cpu_vs_raw_pion", s.HostCPU/s.RawCPU, "×")
		}
		val("sched_latency_p99_ms", s.SchedP99, "ms")
		// Snapshots must also leave within the tick they belong to.
		if p99 < half && s.Sent.Percentile(99) < 2*half && s.Skipped == 0 && s.Clients > best {
			best = s.Clients
		}
	}
	rows = append(rows, Row{Condition: "loopback", Channel: "netcode", Metric: "max_clients_under_half_budget",
		Value: f(float64(best)), Unit: "clients",
		Note: fmt.Sprintf("largest step whose tick p99 stayed under half the %.2f ms budget, with snapshots sent within the budget at p99", 2*half)})
	return rows
}

// writeScaleOutputs prints the table (or JSON) and writes the CSV and charts.
func writeScaleOutputs(w io.Writer, cfg scaleConfig, steps []scaleStep, prog *progress) error {
	rows := scaleRows(cfg, steps)
	printed, errs := cfg.writeFiles(w, "scale", rows, func() ([]string, error) { return scaleCharts(cfg, steps) }, prog)
	if printed {
		return errors.Join(errs...)
	}
	budget := 1000 / float64(cfg.TickRate)
	fmt.Fprintf(w, "Scale, %s\n\nArena host, %d Hz ticks (budget %.2f ms, half %.2f ms), %d Hz snapshots, clients sending %d inputs/s from a separate process over loopback.\n\n",
		machineLine("go run ./bench scale "+strings.Join(os.Args[2:], " ")), cfg.TickRate, budget, budget/2, cfg.SendRate, cfg.InputRate)
	header := []string{"clients", "tick p50 ms", "tick p99 ms", "tick max ms", "sent p99 ms", "late ticks", "sched p99 ms", "host CPU", "CPU/client", "load gen CPU",
		"mem/client", "goroutines/client", "out B/s/client", "in B/s/client", "raw pion CPU/conn", "÷ raw pion"}
	var cells [][]string
	for _, s := range steps {
		cells = append(cells, []string{
			strconv.Itoa(s.Clients),
			fmtMS(f(s.Tick.Percentile(50))), fmtMS(f(s.Tick.Percentile(99))), fmtMS(f(s.Tick.Percentile(100))),
			fmtMS(f(s.Sent.Percentile(99))),
			strconv.FormatUint(s.Late, 10),
			fmtMS(f(s.SchedP99)),
			fmt.Sprintf("%.0f%%", s.HostCPU*100),
			fmt.Sprintf("%.2f%%", s.HostCPU*100/float64(s.Clients)),
			fmt.Sprintf("%.0f%%", s.LoadCPU*100),
			fmt.Sprintf("%.0f KB", s.MemPerClient/1024),
			fmt.Sprintf("%.1f", s.GorPerClient),
			fmt.Sprintf("%.0f", s.OutPerClient),
			fmt.Sprintf("%.0f", s.InPerClient),
			rawCell(s.RawCPU*100/float64(s.Clients), "%.3f%%"),
			rawCell(s.HostCPU/s.RawCPU, "%.2f×"),
		})
	}
	if err := writeMarkdown(w, header, cells); err != nil {
		errs = append(errs, err)
	}
	best := rows[len(rows)-1]
	fmt.Fprintf(w, "\nLargest client count with tick p99 under half the budget (%.2f ms) and snapshots sent within the budget at p99: %.0f\n", budget/2, *best.Value)
	return errors.Join(errs...)
}

// rawCell formats a baseline figure, or "—" when the baseline did not run.
func rawCell(v float64, format string) string {
	if v <= 0 || v != v || v > 1e300 {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

// scaleCharts draws tick time and CPU against the number of clients.
func scaleCharts(cfg scaleConfig, steps []scaleStep) ([]string, error) {
	var p50, p99, sent, cpu, cpuPer, load plotter.XYs
	for _, s := range steps {
		x := float64(s.Clients)
		p50 = append(p50, plotter.XY{X: x, Y: s.Tick.Percentile(50)})
		p99 = append(p99, plotter.XY{X: x, Y: s.Tick.Percentile(99)})
		sent = append(sent, plotter.XY{X: x, Y: s.Sent.Percentile(99)})
		cpu = append(cpu, plotter.XY{X: x, Y: s.HostCPU * 100})
		cpuPer = append(cpuPer, plotter.XY{X: x, Y: s.HostCPU * 100 / x})
		load = append(load, plotter.XY{X: x, Y: s.LoadCPU * 100})
	}
	budget := 1000 / float64(cfg.TickRate)
	var written []string
	tickPath := filepath.Join(cfg.Charts, "scale_tick.png")
	if err := saveLineChart(tickPath, "Host tick duration and snapshot send lag against clients", "clients", "tick duration (ms)",
		[]xySeries{{"tick p50", p50}, {"tick p99", p99}, {"snapshots sent p99", sent}},
		map[string]float64{fmt.Sprintf("half the tick budget (%.2f ms)", budget/2): budget / 2, fmt.Sprintf("tick budget (%.2f ms)", budget): budget}, true); err != nil {
		return written, err
	}
	written = append(written, tickPath)
	cpuPath := filepath.Join(cfg.Charts, "scale_cpu.png")
	if err := saveLineChart(cpuPath, "Host CPU against clients", "clients", "% of one core",
		[]xySeries{{"host CPU", cpu}, {"host CPU per 100 clients", scaleY(cpuPer, 100)}, {"load generator CPU", load}}, nil, false); err != nil {
		return written, err
	}
	return append(written, cpuPath), nil
}

func scaleY(xy plotter.XYs, k float64) plotter.XYs {
	out := make(plotter.XYs, len(xy))
	for i, p := range xy {
		out[i] = plotter.XY{X: p.X, Y: p.Y * k}
	}
	return out
}
