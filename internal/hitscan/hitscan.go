// Package hitscan measures lag compensation on real netcode connections over a
// simulated network: a target strafes back and forth, a shooter client fires at the
// target exactly where its screen shows it (the interpolated position, stamped with
// the tick Client.Interpolate showed), and the host judges every shot three ways:
// against the target where the shooter saw it (lag compensation through
// netcode.History), against the target's present position (no compensation), and
// against a history whose rewind is capped short (to show clamping). netcode's tests
// and `go run ./bench lagcomp` run it.
package hitscan

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/volleynet/volley/internal/netsim"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// Config describes a run. The zero value fires 100 shots on a perfect network.
type Config struct {
	// Shots is how many judged shots to collect. Default 100.
	Shots int
	// Delay and Jitter are the network's one-way delay and largest extra delay
	// (netsim), Loss its packet loss each way, Seed its loss seed.
	Delay, Jitter time.Duration
	Loss          float64
	Seed          int64
	// MaxRewind is the host's LagCompensation.MaxRewind. Default netcode's.
	MaxRewind time.Duration
	// CappedRewind is the cap of the third judgment. Default 50 ms.
	CappedRewind time.Duration
	// Speed is the target's speed in units per second (Radius is its hit radius).
	// Defaults 10 and 0.7: the arena's player speed and radius.
	Speed, Radius float64
}

// Result counts the judged shots and their hits.
type Result struct {
	// Shots is how many shots were judged.
	Shots int
	// Compensated, Present and Capped count hits judged against the target where
	// the shooter saw it, where it is at the host, and where a history capped at
	// CappedRewind puts it.
	Compensated, Present, Capped int
	// Clamped counts the shots whose rewind the capped history clamped, and
	// ClampedFull those the host's own history (MaxRewind) clamped.
	Clamped, ClampedFull uint64
	// Rewind is the mean rewind, in ticks, from the tick a shot was applied to the
	// tick its shooter saw.
	Rewind float64
	// TickRate is the host's tick rate (for converting ticks to time).
	TickRate int
	// RTT and Jitter are the shooter's clock-sync estimates at the end: what its
	// input lead and interpolation delay, and so the rewind, depend on.
	RTT, Jitter time.Duration
}

// Rate returns hits/Shots.
func (r Result) Rate(hits int) float64 {
	if r.Shots == 0 {
		return 0
	}
	return float64(hits) / float64(r.Shots)
}

// Target is the strafing entity.
type Target struct {
	X float32 `snap:"float,min=0,max=100,prec=0.01"` // strafes between 20 and 80
	Y float32 `snap:"float,min=0,max=100,prec=0.01"` // stays at 50
}

const (
	targetType snapshot.TypeID   = 1
	targetID   snapshot.EntityID = 1000
	tickRate                     = 60
	// the strafe: X runs between lo and hi and back, Y stays at row.
	lo, hi, row = 20.0, 80.0, 50.0
)

// targetAt returns the target's position after tick n.
func targetAt(n uint32, speed float64) (float64, float64) {
	span := hi - lo
	d := math.Mod(float64(n)*speed/tickRate, 2*span)
	if d > span {
		d = 2*span - d
	}
	return lo + d, row
}

// input: fire (1 byte), aim x, aim y (float32 LE), view stamp (4 bytes).
const inputBytes = 1 + 4 + 4 + netcode.ViewBytes

func appendShot(dst []byte, fire bool, x, y float32, view float64) []byte {
	f := byte(0)
	if fire {
		f = 1
	}
	dst = append(dst, f)
	dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
	dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(y))
	return netcode.AppendView(dst, view)
}

// judge is the host's side: the target and the verdicts. The tick goroutine writes
// it; Run reads it after the server has stopped. Guarded by mu.
type judge struct {
	mu                           sync.Mutex
	shots, comp, present, capped int
	rewind                       float64 // sum over the shots, in ticks
	want                         int
	enough                       chan struct{} // closed once want shots are judged
	closed                       bool
	capHist                      *netcode.History
	speed, radius                float64
	firstErr                     error
}

// Run runs one scenario and returns its counts.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Shots <= 0 {
		cfg.Shots = 100
	}
	if cfg.CappedRewind <= 0 {
		cfg.CappedRewind = 50 * time.Millisecond
	}
	if cfg.Speed <= 0 {
		cfg.Speed = 10
	}
	if cfg.Radius <= 0 {
		cfg.Radius = 0.7
	}
	nw, err := netsim.New(netsim.Config{Delay: cfg.Delay, Jitter: cfg.Jitter, Loss: cfg.Loss, Seed: cfg.Seed})
	if err != nil {
		return Result{}, err
	}
	defer nw.Close()
	hostNet, err := nw.NewNet()
	if err != nil {
		return Result{}, err
	}
	clientNet, err := nw.NewNet()
	if err != nil {
		return Result{}, err
	}
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(targetType, Target{}); err != nil {
		return Result{}, err
	}
	j := &judge{
		enough:  make(chan struct{}),
		want:    cfg.Shots,
		capHist: netcode.NewHistory(reg, tickRate, netcode.LagCompensation{MaxRewind: cfg.CappedRewind}),
		speed:   cfg.Speed,
		radius:  cfg.Radius,
	}
	srv, err := netcode.NewServer(netcode.ServerConfig{
		Registry:        reg,
		TickRate:        tickRate,
		Transport:       netcode.TransportConfig{Net: hostNet},
		LagCompensation: netcode.LagCompensation{Enabled: true, MaxRewind: cfg.MaxRewind},
		Step:            j.step,
	})
	if err != nil {
		return Result{}, err
	}
	defer srv.Close()

	hostSig, clientSig := signaling.Pipe()
	accepted := make(chan error, 1)
	go func() {
		_, err := srv.Accept(ctx, hostSig)
		accepted <- err
	}()
	c, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: reg, Transport: netcode.TransportConfig{Net: clientNet}}, clientSig)
	if aerr := <-accepted; err == nil && aerr != nil {
		err = aerr
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		return Result{}, fmt.Errorf("hitscan: connect: %w", err)
	}
	defer c.Close()
	if err := shoot(ctx, c, reg, j); err != nil {
		return Result{}, err
	}
	est := c.Clock()
	srv.Close() // Step runs no more: the counts are final
	j.mu.Lock()
	defer j.mu.Unlock()
	r := Result{
		Shots: j.shots, Compensated: j.comp, Present: j.present, Capped: j.capped,
		Clamped: j.capHist.RewindsClamped(), ClampedFull: srv.Totals().RewindsClamped,
		TickRate: tickRate, RTT: est.RTT, Jitter: est.Jitter,
	}
	if j.shots > 0 {
		r.Rewind = j.rewind / float64(j.shots)
	}
	return r, j.firstErr
}

// step is the host's game: judge this tick's shots against the target as the previous
// tick left it (the present) and as histories remember it, then move the target.
func (j *judge) step(t *netcode.Tick) {
	j.mu.Lock()
	defer j.mu.Unlock()
	px, py := targetAt(t.N-1, j.speed)
	for _, in := range t.Inputs {
		if len(in.Data) != inputBytes || in.Data[0] != 1 || j.closed {
			continue
		}
		ax := float64(math.Float32frombits(binary.LittleEndian.Uint32(in.Data[1:])))
		ay := float64(math.Float32frombits(binary.LittleEndian.Uint32(in.Data[5:])))
		view, err := netcode.ReadView(in.Data[9:], t.N)
		if err != nil {
			j.firstErr = errors.Join(j.firstErr, err)
			continue
		}
		at, _ := t.History.Clamp(t.N, view)
		var tg Target
		if ok, err := t.History.Get(targetID, at, &tg); !ok || err != nil {
			continue // the history does not reach back yet
		}
		j.shots++
		j.rewind += float64(t.N) - view
		if math.Hypot(ax-float64(tg.X), ay-float64(tg.Y)) <= j.radius {
			j.comp++
		}
		if math.Hypot(ax-px, ay-py) <= j.radius {
			j.present++
		}
		cat, _ := j.capHist.Clamp(t.N, view)
		if ok, _ := j.capHist.Get(targetID, cat, &tg); ok && math.Hypot(ax-float64(tg.X), ay-float64(tg.Y)) <= j.radius {
			j.capped++
		}
		if j.shots == j.want {
			j.closed = true
			close(j.enough)
		}
	}
	x, y := targetAt(t.N, j.speed)
	if err := t.World.Set(targetID, targetType, Target{X: float32(x), Y: float32(y)}); err != nil {
		j.firstErr = errors.Join(j.firstErr, err)
	}
	j.capHist.Record(t.N, t.World)
}

// shoot is the shooter's frame loop: every frame it draws (interpolates) the world and
// sends an input; every third frame, once its clock is synced, the input fires at the
// target where the frame shows it.
func shoot(ctx context.Context, c *netcode.Client, reg *snapshot.Registry, j *judge) error {
	view := snapshot.NewWorld(reg)
	frames := time.NewTicker(time.Second / tickRate)
	defer frames.Stop()
	buf := make([]byte, 0, inputBytes)
	frame := 0
	for {
		select {
		case <-j.enough:
			return nil
		case <-c.Done():
			return fmt.Errorf("hitscan: client closed: %w", c.Err())
		case <-ctx.Done():
			j.mu.Lock()
			n := j.shots
			j.mu.Unlock()
			return fmt.Errorf("hitscan: %d of %d shots judged: %w", n, j.want, ctx.Err())
		case <-frames.C:
		}
		frame++
		rt, ok := c.Interpolate(view)
		var tg Target
		found := false
		if ok {
			found, _ = view.Get(targetID, &tg)
		}
		// Wait for clock sync and a full interpolation buffer before firing.
		fire := found && c.Clock().Synced && frame > tickRate && frame%3 == 0
		buf = appendShot(buf[:0], fire, tg.X, tg.Y, rt)
		if _, err := c.SendInput(buf); err != nil {
			return err
		}
	}
}
