package main

// The scale benchmark's load generator: a separate process holding N arena
// clients (netcode.Client over loopback) that send inputs like the arena's bots.
// It takes line commands on stdin and answers on stdout:
//
//	clients N  → ready N   (or error ...): connect clients until there are N
//	cpu        → cpu NS    the process's CPU time so far, in nanoseconds
//	close      → closed N  disconnect the N clients (for the raw pion baseline)
//	raw N R S  → ready N   connect raw pion connections until there are N (the
//	                       baseline, scalebase.go), each sending R messages/s of S bytes
//	quit       (or end of input): disconnect everyone and exit

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/netcode"
)

// bot is one load client and its steering.
type bot struct {
	c       *netcode.Client
	sig     *wsSignaler
	seq     uint32
	buttons uint8
	aim     float64
}

// loadOpts configures the load generator.
type loadOpts struct {
	URL       string // the host's signaling WebSocket
	InputRate int    // inputs per second per client
	Dialers   int    // clients connected at once
}

// runScaleLoad is the hidden scale-load command: the load generator in its own process.
func runScaleLoad(args []string) error {
	var o loadOpts
	fs := flag.NewFlagSet(scaleLoadCommand, flag.ContinueOnError)
	fs.StringVar(&o.URL, "signal", "", "host's signaling WebSocket URL")
	fs.IntVar(&o.InputRate, "input-rate", 30, "inputs per second per client")
	fs.IntVar(&o.Dialers, "dialers", 4, "clients connected at once")
	profile := fs.String("profile", "", "write the load generator's CPU, block and mutex profiles into this directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *profile != "" {
		stop, err := startProfiles(*profile, false)
		if err != nil {
			return err
		}
		defer stop()
	}
	return serveLoad(context.Background(), o, os.Stdin, os.Stdout)
}

// serveLoad runs the load generator's line protocol on in and out until "quit"
// or the end of in.
func serveLoad(ctx context.Context, o loadOpts, in io.Reader, w io.Writer) error {
	if o.URL == "" || o.InputRate <= 0 || o.Dialers <= 0 {
		return errors.New("scale-load: need -signal, -input-rate > 0, -dialers > 0")
	}
	url, inputRate, dialers := &o.URL, &o.InputRate, &o.Dialers
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reg := game.NewRegistry()

	var mu sync.Mutex // guards bots
	var bots []*bot
	var raw *rawPeers // the baseline's connections, once asked for
	defer func() {
		if raw != nil {
			raw.Close()
		}
	}()
	closeBots := func() int {
		mu.Lock()
		defer mu.Unlock()
		var wg sync.WaitGroup
		for _, b := range bots {
			wg.Go(func() {
				b.c.Close()
				b.sig.Close()
			})
		}
		wg.Wait()
		n := len(bots)
		bots = nil
		return n
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		var wg sync.WaitGroup
		for _, b := range bots {
			wg.Go(func() {
				b.c.Close()
				b.sig.Close()
			})
		}
		wg.Wait()
	}()

	// The input loop: every bot sends one input per interval and its events are drained.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		t := time.NewTicker(time.Second / time.Duration(*inputRate))
		defer t.Stop()
		buf := make([]byte, 0, game.InputSize)
		var list []*bot
		for {
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
			mu.Lock()
			list = append(list[:0], bots...)
			mu.Unlock()
			for _, b := range list {
				b.steer(rng, *inputRate)
				b.seq++
				buf = game.AppendInput(buf[:0], game.Input{Seq: b.seq, Buttons: b.buttons, Aim: b.aim})
				_, _ = b.c.SendInput(buf)
			drain:
				for {
					select {
					case <-b.c.Events():
					default:
						break drain
					}
				}
			}
		}
	})

	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	connect := func() (*bot, error) {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		conn, _, err := dialer.DialContext(dctx, *url, nil)
		if err != nil {
			return nil, err
		}
		sig := newWSSignaler(conn)
		c, err := netcode.Dial(dctx, netcode.ClientConfig{
			Registry:  reg,
			Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}},
		}, sig)
		if err != nil {
			conn.Close()
			return nil, err
		}
		return &bot{c: c, sig: sig}, nil
	}

	out := bufio.NewWriter(w)
	reply := func(format string, a ...any) {
		fmt.Fprintf(out, format+"\n", a...)
		out.Flush()
	}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "quit":
			return nil
		case "cpu":
			reply("cpu %d", cpuTime().Nanoseconds())
		case "close":
			reply("closed %d", closeBots())
		case "raw":
			if len(fields) != 4 {
				reply("error bad command %q", sc.Text())
				continue
			}
			n, err1 := strconv.Atoi(fields[1])
			rate, err2 := strconv.ParseFloat(fields[2], 64)
			size, err3 := strconv.Atoi(fields[3])
			if err := errors.Join(err1, err2, err3); err != nil || n < 0 || rate < 0 || size < 0 {
				reply("error bad command %q", sc.Text())
				continue
			}
			if raw == nil {
				var err error
				if raw, err = newRawPeers(60); err != nil {
					reply("error raw: %v", err)
					continue
				}
			}
			if err := raw.dialMany(ctx, strings.TrimSuffix(*url, "/signal")+"/raw", n, *dialers); err != nil {
				reply("error %v", err)
				continue
			}
			raw.setLoad(rawLoad{Rate: rate, Size: size})
			reply("ready %d", raw.count())
		case "clients":
			n, err := strconv.Atoi(fields[len(fields)-1])
			if len(fields) != 2 || err != nil {
				reply("error bad command %q", sc.Text())
				continue
			}
			mu.Lock()
			have := len(bots)
			mu.Unlock()
			need := n - have
			if need <= 0 {
				reply("ready %d", have)
				continue
			}
			sem := make(chan struct{}, *dialers)
			var dwg sync.WaitGroup
			var errMu sync.Mutex
			var errs []error
			for range need {
				sem <- struct{}{}
				dwg.Go(func() {
					defer func() { <-sem }()
					// A loaded machine sometimes loses a handshake: try again.
					var b *bot
					var err error
					for range 3 {
						if b, err = connect(); err == nil || ctx.Err() != nil {
							break
						}
					}
					if err != nil {
						errMu.Lock()
						errs = append(errs, err)
						errMu.Unlock()
						return
					}
					mu.Lock()
					bots = append(bots, b)
					mu.Unlock()
				})
			}
			dwg.Wait()
			if len(errs) > 0 {
				reply("error %d of %d clients failed to connect: %v", len(errs), need, errs[0])
				continue
			}
			mu.Lock()
			have = len(bots)
			mu.Unlock()
			reply("ready %d", have)
		default:
			reply("error unknown command %q", fields[0])
		}
	}
	return sc.Err()
}

// steer changes a bot's direction about once a second, aims where it goes and
// fires a third of the time, like the arena's bots.
func (b *bot) steer(rng *rand.Rand, rate int) {
	if b.seq == 0 || rng.IntN(rate) == 0 {
		dirs := []uint8{game.ButtonUp, game.ButtonDown, game.ButtonLeft, game.ButtonRight,
			game.ButtonUp | game.ButtonLeft, game.ButtonUp | game.ButtonRight,
			game.ButtonDown | game.ButtonLeft, game.ButtonDown | game.ButtonRight}
		b.buttons = dirs[rng.IntN(len(dirs))]
		b.aim = rng.Float64()*2*math.Pi - math.Pi
		if rng.IntN(3) == 0 {
			b.buttons |= game.ButtonFire
		}
	}
}
