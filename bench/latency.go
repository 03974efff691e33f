package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// latencyConfig holds the latency command's flags.
type latencyConfig struct {
	outputFlags
	Conditions    []condition
	Duration      time.Duration
	Seed          int64
	TickRate      int
	SendRate      int
	Players       int
	CmdInterval   time.Duration
	InputInterval time.Duration
	EchoCount     int
	EchoInterval  time.Duration
	EchoSize      int
	Floors        bool
	Netcode       bool
}

func parseLatencyFlags(args []string) (latencyConfig, error) {
	var c latencyConfig
	fs := flag.NewFlagSet("latency", flag.ContinueOnError)
	c.outputFlags.register(fs)
	conds := fs.String("conditions", defaultConditions, "comma-separated conditions: perfect or lossPCT_rttMS_jitterMS parts")
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "how long each condition streams snapshots and sends commands and inputs")
	fs.Int64Var(&c.Seed, "seed", 1, "seed of the simulated loss and of the command and input intervals")
	fs.IntVar(&c.TickRate, "tick", 60, "host tick rate (Hz)")
	fs.IntVar(&c.SendRate, "send", 30, "snapshot send rate (Hz)")
	fs.IntVar(&c.Players, "players", 16, "players of the arena trace in every snapshot stream (raw channels and netcode)")
	fs.DurationVar(&c.CmdInterval, "command-interval", time.Second/30, "time between netcode commands")
	fs.DurationVar(&c.InputInterval, "input-interval", time.Second/30, "time between netcode inputs")
	fs.IntVar(&c.EchoCount, "echo-count", 300, "pings per echo floor")
	// The floors are paced like the netcode commands so that they compare like
	// with like: a busier pace keeps pion's goroutines hot and lowers them.
	fs.DurationVar(&c.EchoInterval, "echo-interval", time.Second/30, "time between echo pings")
	fs.IntVar(&c.EchoSize, "echo-size", 64, "echo payload bytes")
	fs.DurationVar(&sctpRTOMax, "sctp-rto-max", 0, "SCTP retransmission timeout cap of every pion peer (0: netcode's default)")
	fs.BoolVar(&c.Floors, "floors", true, "measure on loopback: the echo floors and (unless -netcode=false) netcode")
	fs.BoolVar(&c.Netcode, "netcode", true, "measure command round trip and input to visible through netcode")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	var err error
	if c.Conditions, err = parseConditions(*conds); err != nil {
		return c, err
	}
	c.outputFlags.resolve()
	if c.TickRate <= 0 || c.SendRate <= 0 || c.SendRate > c.TickRate {
		return c, errors.New("need 0 < -send <= -tick")
	}
	if c.Duration <= 0 || c.CmdInterval <= 0 || c.InputInterval <= 0 || c.EchoInterval <= 0 || c.EchoCount <= 0 || c.Players <= 0 || c.Players > 255 {
		return c, errors.New("need positive -duration, intervals and -echo-count, and 0 < -players <= 255")
	}
	return c, nil
}

// runLatency measures the floors on loopback, then for each condition the
// snapshot age on both channels and, through netcode, the command round trip
// and input to visible.
func runLatency(args []string) error {
	cfg, err := parseLatencyFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	prog := newProgress(cfg.Quiet)
	results, err := measureLatency(ctx, cfg, prog)
	if len(results) == 0 {
		return err
	}
	if werr := writeLatencyOutputs(os.Stdout, cfg, results, prog); werr != nil {
		err = errors.Join(err, werr)
	}
	return err
}

// measureLatency runs every measurement the config asks for. It returns what it
// measured even when a part fails.
func measureLatency(ctx context.Context, cfg latencyConfig, prog *progress) ([]Result, error) {
	var results []Result
	var errs []error
	if cfg.Floors {
		floors, err := runFloors(ctx, echoOpts{Count: cfg.EchoCount, Size: cfg.EchoSize,
			Interval: cfg.EchoInterval, Timeout: 2 * time.Second, Progress: prog})
		results = append(results, floors...)
		if err != nil {
			errs = append(errs, err)
		}
		if cfg.Netcode {
			if nc, err := netcodeLoopback(ctx, cfg, prog); err != nil {
				errs = append(errs, fmt.Errorf("netcode loopback: %w", err))
			} else {
				results = append(results, nc...)
			}
		}
	}
	for i, c := range cfg.Conditions {
		if ctx.Err() != nil {
			break
		}
		prog.Printf("condition %d/%d: %s, %v", i+1, len(cfg.Conditions), c.Name, c)
		o := snapAgeOpts{Duration: cfg.Duration, TickRate: cfg.TickRate, SendRate: cfg.SendRate,
			Players: cfg.Players, Drain: 5 * time.Second, Seed: cfg.Seed + int64(i)*1000, Progress: prog}
		var wg sync.WaitGroup
		var mu sync.Mutex
		run := func(label string, f func() ([]Result, error)) {
			wg.Go(func() {
				res, err := f()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, fmt.Errorf("%s %s: %w", c.Name, label, err))
				}
				results = append(results, res...)
			})
		}
		for _, ch := range []struct {
			name string
			spec channelSpec
		}{{"unreliable", channelSpec{"unreliable", unreliableInit}}, {"reliable", channelSpec{"reliable", reliableInit}}} {
			run("snapshot age "+ch.name, func() ([]Result, error) {
				r, err := measureSnapshotAge(ctx, c, ch.spec.Label, ch.spec.Init, o)
				if err != nil {
					return nil, err
				}
				row := r.Dist.Row(c.Name, ch.name, "snapshot_age")
				if r.Sent > 0 {
					row.Delivered = f(float64(r.Dist.Len()) / float64(r.Sent))
					row.Note = fmt.Sprintf("raw pion, arena trace %d players, %d B/packet", cfg.Players, r.Bytes/r.Sent)
				}
				if r.DecodeErrs > 0 {
					row.Note += fmt.Sprintf(", %d decode errors", r.DecodeErrs)
				}
				return []Result{{Row: row, Dist: r.Dist}}, nil
			})
		}
		if cfg.Netcode {
			run("netcode", func() ([]Result, error) { return netcodeCondition(ctx, cfg, c, o.Seed+500, prog) })
		}
		wg.Wait()
	}
	sortResults(results, cfg.Conditions)
	return results, errors.Join(errs...)
}

// sortResults orders rows: floors first, then by condition order, metric, channel.
func sortResults(rs []Result, conds []condition) {
	condRank := map[string]int{"loopback": -1}
	for i, c := range conds {
		condRank[c.Name] = i
	}
	metricRank := map[string]int{"echo_rtt": 0, "command_rtt": 1, "command_rtt_less_tick_wait": 2, "snapshot_age": 3, "input_to_visible": 4}
	chanRank := map[string]int{"udp_raw": 0, "pion_raw": 1, "websocket": 2, "netcode": 3, "unreliable": 4, "reliable": 5}
	key := func(r Result) [3]int {
		return [3]int{condRank[r.Condition], metricRank[r.Metric], chanRank[r.Channel]}
	}
	slices.SortStableFunc(rs, func(a, b Result) int {
		ka, kb := key(a), key(b)
		return slices.Compare(ka[:], kb[:])
	})
}

// writeLatencyOutputs prints the table (or JSON) and writes the CSV and charts.
func writeLatencyOutputs(w io.Writer, cfg latencyConfig, results []Result, prog *progress) error {
	rows := make([]Row, len(results))
	for i, r := range results {
		rows[i] = r.Row
	}
	printed, errs := cfg.writeFiles(w, "latency", rows, func() ([]string, error) { return latencyCharts(cfg, results) }, prog)
	if printed {
		return errors.Join(errs...)
	}
	fmt.Fprintf(w, "Latency, %s\n\n", machineLine("go run ./bench latency "+strings.Join(os.Args[2:], " ")))
	h, cells := latencyTable(rows)
	if err := writeMarkdown(w, h, cells); err != nil {
		errs = append(errs, err)
	}
	if checks := latencyChecks(cfg, rows); len(checks) > 0 {
		fmt.Fprintln(w)
		for _, c := range checks {
			fmt.Fprintln(w, "- "+c)
		}
	}
	return errors.Join(errs...)
}

// latencyCharts draws one CDF chart per metric and condition group.
func latencyCharts(cfg latencyConfig, results []Result) ([]string, error) {
	type chart struct {
		file, title string
		keep        func(Result) bool
		name        func(Result) string
	}
	charts := []chart{
		{"latency_floors_cdf.png", "Loopback: echo floors and netcode's command round trip",
			func(r Result) bool { return r.Condition == "loopback" && r.Metric != "input_to_visible" },
			func(r Result) string {
				if r.Metric == "command_rtt_less_tick_wait" {
					return "netcode command less tick wait"
				}
				return r.Channel + " " + strings.ReplaceAll(r.Metric, "_", " ")
			}},
		{"latency_snapshot_age_cdf.png", "Snapshot age at the client: unreliable (solid) vs ordered reliable (dashed)",
			func(r Result) bool { return r.Metric == "snapshot_age" },
			func(r Result) string { return r.Condition + " " + r.Channel }},
		{"latency_command_rtt_cdf.png", "Command round trip through netcode (dashed: less the wait for the next tick)",
			func(r Result) bool { return strings.HasPrefix(r.Metric, "command_rtt") },
			func(r Result) string {
				if r.Metric == "command_rtt_less_tick_wait" {
					return r.Condition + " less tick wait"
				}
				return r.Condition
			}},
		{"latency_input_to_visible_cdf.png", "Input to visible through netcode",
			func(r Result) bool { return r.Metric == "input_to_visible" },
			func(r Result) string { return r.Condition }},
	}
	var written []string
	var errs []error
	for _, c := range charts {
		// One color per condition; the reliable channel dashed.
		var series []cdfSeries
		colors := map[string]int{}
		for _, r := range results {
			if r.Dist == nil || r.Dist.Len() == 0 || !c.keep(r) {
				continue
			}
			key := r.Condition
			if r.Condition == "loopback" {
				key = r.Channel
			}
			if _, ok := colors[key]; !ok {
				colors[key] = len(colors)
			}
			dash := 0
			if r.Channel == "reliable" || r.Metric == "command_rtt_less_tick_wait" {
				dash = 1
			}
			series = append(series, cdfSeries{Name: c.name(r), Dist: r.Dist, Color: colors[key], Dash: dash})
		}
		if len(series) == 0 {
			continue
		}
		path := filepath.Join(cfg.Charts, c.file)
		if err := saveCDFChart(path, c.title, series); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		written = append(written, path)
	}
	return written, errors.Join(errs...)
}

// find returns the first row matching condition, channel and metric.
func find(rows []Row, condition, channel, metric string) (Row, bool) {
	for _, r := range rows {
		if r.Condition == condition && r.Channel == channel && r.Metric == metric && r.P99 != nil {
			return r, true
		}
	}
	return Row{}, false
}

// acceptanceCondition is the condition the acceptance figures name.
const acceptanceCondition = "loss5_rtt50_jitter10"

// latencyChecks states the acceptance figures against this run.
func latencyChecks(cfg latencyConfig, rows []Row) []string {
	var out []string
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	sendEvery := time.Second / time.Duration(cfg.SendRate)
	for _, c := range cfg.Conditions {
		u, okU := find(rows, c.Name, "unreliable", "snapshot_age")
		r, okR := find(rows, c.Name, "reliable", "snapshot_age")
		if c.Name != acceptanceCondition {
			continue
		}
		if okU && okR {
			bound := float64(c.OneWay()+c.Jitter+2*sendEvery) / float64(time.Millisecond)
			ok := *u.P99 <= *r.P99/2 && *u.P99 <= bound
			out = append(out, fmt.Sprintf("%s: %s snapshot age p99 unreliable %.1f ms vs reliable %.1f ms (want ≤ half, and ≤ %.0f ms = one-way + jitter + 2 send intervals)",
				verdict(ok), c.Name, *u.P99, *r.P99, bound))
		}
		if cmd, ok := find(rows, c.Name, "netcode", "command_rtt"); ok {
			// Copies on the unreliable channel recover a lost command or event
			// within a tick or an update, not an SCTP retransmission timeout.
			bound := float64(c.RTT+100*time.Millisecond) / float64(time.Millisecond)
			out = append(out, fmt.Sprintf("%s: %s command round trip p99 %.1f ms (want ≤ RTT + 100 ms = %.0f ms)",
				verdict(*cmd.P99 <= bound), c.Name, *cmd.P99, bound))
		}
	}
	if raw, ok := find(rows, "loopback", "pion_raw", "echo_rtt"); ok {
		if nc, ok := find(rows, "loopback", "netcode", "command_rtt_less_tick_wait"); ok {
			out = append(out, fmt.Sprintf("%s: loopback netcode command round trip less the tick wait p50 %.2f ms vs raw pion echo p50 %.2f ms, both every %v (want ≤ 1.5×, ratio %.2f)",
				verdict(*nc.P50 <= 1.5**raw.P50), *nc.P50, *raw.P50, cfg.EchoInterval, *nc.P50 / *raw.P50))
		}
	}
	return out
}
