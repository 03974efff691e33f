package main

// Command round trip and input to visible through netcode: a real
// netcode.Server and netcode.Client, on loopback or over a simulated link.

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// probe is the entity through which a client sees its inputs take effect: the
// host writes the sequence number of the client's latest applied input into it.
type probe struct {
	Seq int `snap:"int,min=0,max=16777215"`
}

const probeType snapshot.TypeID = 3

func probeID(id netcode.ClientID) snapshot.EntityID { return 1<<20 + snapshot.EntityID(id) }

// pingCmd is the command a client sends; pongEvent is the host's answer.
type pingCmd struct {
	Seq uint32 `msgpack:"s"`
}

type pongEvent struct {
	Seq uint32 `msgpack:"s"`
}

// probeRegistry holds the arena trace's types and the probe.
func probeRegistry() (*snapshot.Registry, error) {
	reg, err := arenaRegistry()
	if err != nil {
		return nil, err
	}
	if _, err := reg.Register(probeType, probe{}); err != nil {
		return nil, err
	}
	return reg, nil
}

// netcodeOpts says how a netcode latency session runs.
type netcodeOpts struct {
	Duration      time.Duration
	MinCommands   int // commands to send even if Duration ends first (a loaded machine sends fewer)
	TickRate      int
	SendRate      int
	Players       int // arena trace players in the world, for realistic snapshots
	CmdInterval   time.Duration
	InputInterval time.Duration
	Drain         time.Duration
	Seed          int64 // seeds the send intervals
	Progress      *progress
	Name          string
}

// hostStamp is what the host's Step saw of one command.
type hostStamp struct {
	stepStart, sendAt time.Time
}

// netcodeResults are the distributions one session measures.
type netcodeResults struct {
	CmdRTT, CmdLessWait, InputVisible *Dist
	CmdSent, InputsSent               int
	// Commands and events that a copy on the unreliable channel delivered
	// before the reliable channel did.
	CopiedCmds, CopiedEvents uint64
}

// measureNetcode runs one host and one client (on loopback when l is nil) and
// measures, at the same time, the command round trip (a command applied at the
// host's next tick, answered with an event) and input to visible (an input
// until the client decodes a snapshot showing its effect).
//
// The host and client share one process and one monotonic clock, so the host's
// Step records when it ran and when it answered each command. The tick wait is
// (step start − command sent − down), where down is the measured host→client
// leg of the same command: it assumes the client→host leg takes as long.
func measureNetcode(ctx context.Context, l *link, o netcodeOpts) (netcodeResults, error) {
	reg, err := probeRegistry()
	if err != nil {
		return netcodeResults{}, err
	}
	hostTr := netcode.TransportConfig{SCTPRTOMax: sctpRTOMax}
	clientTr := hostTr
	if l == nil {
		hostTr.ICE.LoopbackOnly, clientTr.ICE.LoopbackOnly = true, true
	} else {
		hostTr.Net, clientTr.Net = l.Host, l.Client
	}

	var mu sync.Mutex // guards stamps and stepErr
	stamps := map[uint32]hostStamp{}
	arena := newArenaWorld(reg, o.Players, 1)
	var stepErr error
	srv, err := netcode.NewServer(netcode.ServerConfig{
		Registry:  reg,
		TickRate:  o.TickRate,
		SendRate:  o.SendRate,
		Transport: hostTr,
		Step: func(t *netcode.Tick) {
			start := time.Now()
			if err := arena.StepInto(t.World); err != nil {
				mu.Lock()
				stepErr = cmp.Or(stepErr, err)
				mu.Unlock()
			}
			for _, id := range t.Joined {
				_ = t.World.Set(probeID(id), probeType, &probe{})
			}
			for _, in := range t.Inputs {
				if len(in.Data) == 4 {
					seq := int(binary.BigEndian.Uint32(in.Data))
					_ = t.World.Set(probeID(in.Client), probeType, &probe{Seq: seq})
				}
			}
			for _, c := range t.Commands {
				var m pingCmd
				if c.Decode(&m) != nil {
					continue
				}
				mu.Lock()
				stamps[m.Seq] = hostStamp{stepStart: start, sendAt: time.Now()}
				mu.Unlock()
				_ = t.Send(c.Client, pongEvent(m))
			}
		},
	})
	if err != nil {
		return netcodeResults{}, err
	}
	defer srv.Close()

	hostSig, clientSig := signaling.Pipe()
	defer hostSig.Close()
	setupCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	accepted := make(chan error, 1)
	go func() {
		_, err := srv.Accept(setupCtx, hostSig)
		accepted <- err
	}()
	cli, err := netcode.Dial(setupCtx, netcode.ClientConfig{Registry: reg, Transport: clientTr}, clientSig)
	if err != nil {
		return netcodeResults{}, fmt.Errorf("dial: %w", err)
	}
	defer cli.Close()
	if err := <-accepted; err != nil {
		return netcodeResults{}, fmt.Errorf("accept: %w", err)
	}
	if l != nil {
		if err := l.Impair(); err != nil {
			return netcodeResults{}, err
		}
	}

	res := netcodeResults{CmdRTT: &Dist{}, CmdLessWait: &Dist{}, InputVisible: &Dist{}}
	var cmu sync.Mutex // guards cmdAt, inputAt, res's distributions
	cmdAt := map[uint32]time.Time{}
	inputAt := map[uint32]time.Time{}
	var cmdSeq, inputSeq, visible uint32
	gotCmds, gotInputs := 0, 0

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	// Events: the answers to commands.
	wg.Go(func() {
		for {
			select {
			case ev := <-cli.Events():
				now := time.Now()
				var m pongEvent
				if ev.Decode(&m) != nil {
					continue
				}
				mu.Lock()
				st, okStamp := stamps[m.Seq]
				mu.Unlock()
				cmu.Lock()
				if t0, ok := cmdAt[m.Seq]; ok {
					rtt := now.Sub(t0)
					res.CmdRTT.Add(rtt)
					if okStamp {
						down := now.Sub(st.sendAt)
						wait := max(0, st.stepStart.Sub(t0)-down)
						res.CmdLessWait.Add(rtt - wait)
					}
					delete(cmdAt, m.Seq)
					gotCmds++
				}
				cmu.Unlock()
			case <-cli.Done():
				return
			case <-runCtx.Done():
				return
			}
		}
	})
	// Updates: when does the probe show each input?
	wg.Go(func() {
		view := snapshot.NewWorld(reg)
		var p probe
		for {
			select {
			case <-cli.Updates():
				now := time.Now()
				if _, ok := cli.Latest(view); !ok {
					continue
				}
				if ok, err := view.Get(probeID(cli.ID()), &p); !ok || err != nil {
					continue
				}
				cmu.Lock()
				for ; visible < uint32(p.Seq); visible++ {
					if t0, ok := inputAt[visible+1]; ok {
						res.InputVisible.Add(now.Sub(t0))
						delete(inputAt, visible+1)
						gotInputs++
					}
				}
				cmu.Unlock()
			case <-cli.Done():
				return
			case <-runCtx.Done():
				return
			}
		}
	})

	// The senders.
	// Commands and inputs leave at random intervals averaging the configured
	// ones: at a fixed interval commensurate with the tick they would always meet
	// the tick loop at the same phase and measure one wait for the next tick.
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x5ca1ab1e))
	next := func(d time.Duration) time.Duration { return d/2 + time.Duration(rng.Int64N(int64(d))) }
	cmdTick := time.NewTimer(next(o.CmdInterval))
	defer cmdTick.Stop()
	inTick := time.NewTimer(next(o.InputInterval))
	defer inTick.Stop()
	end := time.NewTimer(o.Duration)
	defer end.Stop()
	var sendErr error
	buf := make([]byte, 4)
	ended := false // Duration is over; sending goes on until MinCommands are sent
send:
	for {
		select {
		case <-cmdTick.C:
			cmdTick.Reset(next(o.CmdInterval))
			cmu.Lock()
			cmdSeq++
			seq := cmdSeq
			cmdAt[seq] = time.Now()
			cmu.Unlock()
			if err := cli.Send(pingCmd{Seq: seq}); err != nil {
				sendErr = fmt.Errorf("command: %w", err)
				break send
			}
			if ended && int(seq) >= o.MinCommands {
				break send
			}
		case <-inTick.C:
			inTick.Reset(next(o.InputInterval))
			cmu.Lock()
			inputSeq++
			seq := inputSeq
			inputAt[seq] = time.Now()
			cmu.Unlock()
			binary.BigEndian.PutUint32(buf, seq)
			if _, err := cli.SendInput(buf); err != nil {
				sendErr = fmt.Errorf("input: %w", err)
				break send
			}
		case <-end.C:
			if int(cmdSeq) >= o.MinCommands {
				break send
			}
			ended = true
		case <-cli.Done():
			sendErr = fmt.Errorf("client disconnected: %w", cli.Err())
			break send
		case <-ctx.Done():
			sendErr = ctx.Err()
			break send
		}
		if o.Progress != nil {
			o.Progress.Tick("%s: netcode: %d commands, %d inputs sent", o.Name, cmdSeq, inputSeq)
		}
	}
	// Wait for the answers still in flight.
	deadline := time.Now().Add(o.Drain)
	for time.Now().Before(deadline) && sendErr == nil {
		cmu.Lock()
		done := len(cmdAt) == 0 && len(inputAt) == 0
		cmu.Unlock()
		if done {
			break
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	stop()
	wg.Wait()
	if hs, ok := srv.ClientStats(cli.ID()); ok {
		res.CopiedCmds = hs.CopiesFirst
	}
	res.CopiedEvents = cli.Stats().CopiesFirst
	cmu.Lock()
	res.CmdSent, res.InputsSent = int(cmdSeq), int(inputSeq)
	cmu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	return res, errors.Join(sendErr, stepErr)
}

// netcodeRows turns a session's results into rows.
func netcodeRows(cond string, lossless bool, r netcodeResults) []Result {
	row := func(d *Dist, metric string, sent int, note string) Result {
		rw := d.Row(cond, "netcode", metric)
		if sent > 0 {
			rw.Delivered = f(float64(d.Len()) / float64(sent))
		}
		rw.Note = note
		return Result{Row: rw, Dist: d}
	}
	out := []Result{
		row(r.CmdRTT, "command_rtt", r.CmdSent, fmt.Sprintf("command applied at the next tick, answered with an event; first by copy: %d commands, %d events", r.CopiedCmds, r.CopiedEvents)),
		row(r.InputVisible, "input_to_visible", r.InputsSent, "input until a decoded snapshot shows it (no interpolation delay)"),
	}
	if lossless {
		// Under loss one leg may be retransmitted and the other not: the
		// symmetric estimate of the tick wait would then be wrong.
		out = append(out, row(r.CmdLessWait, "command_rtt_less_tick_wait", r.CmdSent,
			"command round trip less the wait for the next tick (legs assumed symmetric)"))
	}
	return out
}

func (cfg latencyConfig) netcodeOpts(name string, seed int64, prog *progress) netcodeOpts {
	return netcodeOpts{Seed: seed, Duration: cfg.Duration, TickRate: cfg.TickRate, SendRate: cfg.SendRate,
		Players: cfg.Players, CmdInterval: cfg.CmdInterval, InputInterval: cfg.InputInterval,
		Drain: 5 * time.Second, Progress: prog, Name: name}
}

// netcodeLoopback measures netcode on loopback (no simulated network).
func netcodeLoopback(ctx context.Context, cfg latencyConfig, prog *progress) ([]Result, error) {
	prog.Printf("netcode on loopback for %v", cfg.Duration)
	r, err := measureNetcode(ctx, nil, cfg.netcodeOpts("loopback", cfg.Seed, prog))
	if err != nil {
		return nil, err
	}
	return netcodeRows("loopback", true, r), nil
}

// netcodeCondition measures netcode over a simulated link for c.
func netcodeCondition(ctx context.Context, cfg latencyConfig, c condition, seed int64, prog *progress) ([]Result, error) {
	l, err := newLink(c, seed)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	r, err := measureNetcode(ctx, l, cfg.netcodeOpts(c.Name, seed, prog))
	if err != nil {
		return nil, err
	}
	return netcodeRows(c.Name, c.Loss == 0, r), nil
}
