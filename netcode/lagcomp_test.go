//go:build !js

package netcode

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/volleynet/volley/snapshot"
)

type shell struct {
	X float32 `snap:"float,min=0,max=1000,prec=0.01"`
}

const shellType snapshot.TypeID = 2

func historyRegistry(t testing.TB) *snapshot.Registry {
	t.Helper()
	reg := testRegistry(t)
	if _, err := reg.Register(shellType, shell{}); err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestHistoryRewind records entities moving 1 unit per tick and reads them back at
// whole and fractional ticks, clamped to the recorded range, across a teleport and a
// removal, through Get, Quantized and World.
func TestHistoryRewind(t *testing.T) {
	reg := historyRegistry(t)
	h := NewHistory(reg, 60, LagCompensation{MaxRewind: 100 * time.Millisecond}) // 6 ticks, 8 kept
	w := snapshot.NewWorld(reg)
	for n := uint32(100); n <= 120; n++ {
		x := float32(n - 100)
		spawn := 0
		if n >= 118 {
			x, spawn = 500, 1 // a respawn: not blended
		}
		if err := w.Set(1, playerType, Player{X: x, Y: -x, Angle: 0.01 * x, HP: int(n - 100), Spawn: spawn}); err != nil {
			t.Fatal(err)
		}
		if n <= 116 {
			if err := w.Set(2, shellType, shell{X: 2 * x}); err != nil {
				t.Fatal(err)
			}
		} else {
			w.Remove(2)
		}
		h.Record(n, w)
		h.Record(n, w) // a repeat changes nothing
	}
	oldest, newest, ok := h.Ticks()
	if !ok || oldest != 113 || newest != 120 {
		t.Fatalf("ticks %d..%d (%v), want 113..120", oldest, newest, ok)
	}
	get := func(id snapshot.EntityID, at float64) (Player, bool) {
		var p Player
		found, err := h.Get(id, at, &p)
		if err != nil {
			t.Fatal(err)
		}
		return p, found
	}
	for _, tc := range []struct {
		at    float64
		x, hp float64
	}{
		{114, 14, 14},
		{114.25, 14.25, 14}, // floats blend, ints hold the older value
		{116.5, 16.5, 16},
		{100, 13, 13},    // before the oldest: the oldest
		{130, 500, 20},   // after the newest: the newest
		{117.5, 500, 18}, // 117 -> 118 is a respawn: the newer version, not a blend
	} {
		p, found := get(1, tc.at)
		if !found || math.Abs(float64(p.X)-tc.x) > 0.006 || float64(p.HP) != tc.hp {
			t.Errorf("player at %v: %+v (found %v), want X %v HP %v", tc.at, p, found, tc.x, tc.hp)
		}
	}
	var s shell
	if found, _ := h.Get(2, 116.5, &s); !found || s.X != 32 {
		t.Errorf("shell at 116.5 (removed at 117): %+v %v, want X 32 (held until removed)", s, found)
	}
	if found, _ := h.Get(2, 118, &s); found {
		t.Error("shell found at 118, after its removal")
	}
	dst := snapshot.NewWorld(reg)
	if !h.World(dst, 116.5) || dst.Len() != 2 {
		t.Fatalf("World at 116.5 holds %d entities, want 2", dst.Len())
	}
	var p Player
	if _, err := dst.Get(1, &p); err != nil || math.Abs(float64(p.X)-16.5) > 0.006 {
		t.Errorf("World at 116.5: player %+v %v", p, err)
	}
}

// TestHistoryClamp: rewinds further back than MaxRewind are clamped and counted;
// views in the future come back as now.
func TestHistoryClamp(t *testing.T) {
	h := NewHistory(testRegistry(t), 60, LagCompensation{MaxRewind: 200 * time.Millisecond}) // 12 ticks
	for _, tc := range []struct {
		view, want float64
		clamped    bool
	}{
		{995, 995, false},
		{988, 988, false},
		{987.5, 988, true},
		{500, 988, true},
		{math.NaN(), 988, true},
		{1003, 1000, false},
	} {
		at, clamped := h.Clamp(1000, tc.view)
		if at != tc.want || clamped != tc.clamped {
			t.Errorf("Clamp(1000, %v) = %v, %v; want %v, %v", tc.view, at, clamped, tc.want, tc.clamped)
		}
	}
	if n := h.RewindsClamped(); n != 3 {
		t.Errorf("%d rewinds counted as clamped, want 3", n)
	}
	// Without the cap the same view would reach 500 ticks back: the test above
	// fails if Clamp stops clamping.
}

// TestHistoryTypes keeps only the listed types.
func TestHistoryTypes(t *testing.T) {
	reg := historyRegistry(t)
	h := NewHistory(reg, 60, LagCompensation{Types: []snapshot.TypeID{playerType}})
	w := snapshot.NewWorld(reg)
	_ = w.Set(1, playerType, Player{X: 1})
	_ = w.Set(2, shellType, shell{X: 2})
	h.Record(1, w)
	if _, _, ok := h.Quantized(1, 1, nil); !ok {
		t.Error("player missing")
	}
	if _, _, ok := h.Quantized(2, 1, nil); ok {
		t.Error("shell kept although only players were asked for")
	}
}

// TestViewStamp round-trips render ticks through AppendView and ReadView, near tick 0
// and across the stamp's wrap.
func TestViewStamp(t *testing.T) {
	for _, tc := range []struct {
		view float64
		now  uint32
	}{
		{0, 10}, {1.5, 20}, {987.4375, 1000}, {1 << 28, 1<<28 + 30}, {1<<28 - 2.5, 1<<28 + 9},
		{3_000_000_000.25, 3_000_000_015},
	} {
		b := AppendView(nil, tc.view)
		if len(b) != ViewBytes {
			t.Fatalf("%d bytes", len(b))
		}
		got, err := ReadView(b, tc.now)
		if err != nil || got != tc.view {
			t.Errorf("view %v at %d: read %v, %v", tc.view, tc.now, got, err)
		}
	}
	if _, err := ReadView([]byte{1, 2, 3}, 5); err == nil {
		t.Error("a 3-byte stamp was accepted")
	}
}

// TestHistoryAllocs: recording and rewinding allocate nothing once the history is full.
func TestHistoryAllocs(t *testing.T) {
	reg := historyRegistry(t)
	h := NewHistory(reg, 60, LagCompensation{Types: []snapshot.TypeID{playerType}})
	// Worlds of players moving and shells coming and going, recorded in turn.
	worlds := make([]*snapshot.World, 10)
	for i := range worlds {
		w := snapshot.NewWorld(reg)
		for id := range snapshot.EntityID(300) {
			_ = w.Set(id, playerType, Player{X: float32(i) + float32(id)/10, Y: float32(id)})
		}
		for k := range 5 {
			_ = w.Set(1000+snapshot.EntityID(i*5+k), shellType, shell{X: float32(i)})
		}
		worlds[i] = w
	}
	n := uint32(0)
	var p Player
	step := func() {
		n++
		h.Record(n, worlds[n%10])
		at, _ := h.Clamp(n, float64(n)-12.3)
		if found, err := h.Get(snapshot.EntityID(n%300), at, &p); !found || err != nil {
			t.Fatalf("rewind: %v %v", found, err)
		}
	}
	for range 100 {
		step()
	}
	if a := allocsPerRun(200, step); a != 0 {
		t.Fatalf("%v allocations per tick (record and rewind), want 0", a)
	}
}

// BenchmarkHistory measures lag compensation's cost per tick on the host: recording a
// world of 256 players and 200 projectiles (all of it, or only the players), and one
// rewound lookup; history-bytes is the memory the full history holds.
func BenchmarkHistory(b *testing.B) {
	reg := historyRegistry(b)
	for _, onlyPlayers := range []bool{false, true} {
		b.Run(fmt.Sprintf("players-only=%v", onlyPlayers), func(b *testing.B) {
			cfg := LagCompensation{}
			if onlyPlayers {
				cfg.Types = []snapshot.TypeID{playerType}
			}
			w := snapshot.NewWorld(reg)
			n := uint32(0)
			move := func() {
				n++
				for id := range snapshot.EntityID(256) {
					_ = w.Set(id, playerType, Player{X: float32(n%500) + float32(id), Y: float32(id), Angle: float32(n) / 10, HP: 100})
				}
				for i := range snapshot.EntityID(200) {
					_ = w.Set(10000+i, shellType, shell{X: float32((n + uint32(i)) % 1000)})
				}
			}
			move()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			h := NewHistory(reg, 60, cfg)
			for range 60 {
				move()
				h.Record(n, w)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			var p Player
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				n++ // the world is not moved: this measures the history, not Set
				h.Record(n, w)
				at, _ := h.Clamp(n, float64(n)-14.5)
				if found, _ := h.Get(snapshot.EntityID(n%256), at, &p); !found {
					b.Fatal("not found")
				}
			}
			b.ReportMetric(float64(after.HeapAlloc)-float64(before.HeapAlloc), "history-bytes")
		})
	}
}

// FuzzReadView: any bytes decode without panicking to a tick within 2^27 of now, and
// a stamp of that tick is the same four bytes.
func FuzzReadView(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0}, uint32(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint32(5))
	f.Add([]byte{1, 2, 3}, uint32(7))
	f.Add(AppendView(nil, 1e6+0.25), uint32(1e6+20))
	f.Fuzz(func(t *testing.T, b []byte, now uint32) {
		v, err := ReadView(b, now)
		if err != nil {
			if len(b) >= ViewBytes {
				t.Fatalf("%x rejected: %v", b, err)
			}
			return
		}
		if math.Abs(v-float64(now)) > 1<<27 {
			t.Fatalf("%x at %d read as %v", b, now, v)
		}
		if v >= 0 && string(AppendView(nil, v)) != string(b[:ViewBytes]) {
			t.Fatalf("%x read as %v, which stamps as %x", b, v, AppendView(nil, v))
		}
	})
}
