package game

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"testing"
)

const dt = 1.0 / 60

// newState returns a state with players at the given positions (ids 1..n).
func newState(pos ...Vec) *State {
	s := &State{}
	for i, p := range pos {
		pl := s.AddPlayer(PlayerID(i+1), "")
		pl.Pos = p
	}
	return s
}

// step is the distance a player moves in one tick along one axis.
var step = RoundPos(PlayerSpeed * dt)

// diag is the per-axis distance of one diagonal tick.
var diag = RoundPos(PlayerSpeed * dt * math.Sqrt2 / 2)

func near(a, b Vec) bool { return math.Abs(a.X-b.X) < 1e-9 && math.Abs(a.Y-b.Y) < 1e-9 }

func TestMovement(t *testing.T) {
	tests := []struct {
		name    string
		from    Vec
		buttons uint8
		ticks   int
		want    Vec
	}{
		{"right one second", Vec{5, 5}, ButtonRight, 60, Vec{5 + 60*step, 5}},
		{"left", Vec{10, 5}, ButtonLeft, 30, Vec{10 - 30*step, 5}},
		{"up", Vec{5, 14}, ButtonUp, 30, Vec{5, 14 - 30*step}},
		{"down", Vec{5, 5}, ButtonDown, 30, Vec{5, 5 + 30*step}},
		{"idle", Vec{5, 5}, 0, 60, Vec{5, 5}},
		{"opposite keys cancel", Vec{5, 5}, ButtonLeft | ButtonRight, 60, Vec{5, 5}},
		{"diagonal", Vec{3, 30}, ButtonRight | ButtonUp, 60, Vec{3 + 60*diag, 30 - 60*diag}},
		{"stops at left edge", Vec{2, 5}, ButtonLeft, 60, Vec{PlayerRadius, 5}},
		{"stops at bottom edge", Vec{5, 34}, ButtonDown, 60, Vec{5, Height - PlayerRadius}},
		{"stops at center block", Vec{20, 18}, ButtonRight, 120, Vec{28 - PlayerRadius, 18}},
		{"stops under center block", Vec{32, 25}, ButtonUp, 120, Vec{32, 21 + PlayerRadius}},
		{"slides along wall", Vec{26, 15.5}, ButtonRight | ButtonDown, 20, Vec{28 - PlayerRadius, 15.5 + 20*diag}},
		{"passes beside pillar", Vec{10, 12 + PlayerRadius}, ButtonRight, 60, Vec{10 + 60*step, 12 + PlayerRadius}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newState(tc.from)
			for i := 0; i < tc.ticks; i++ {
				Step(s, map[PlayerID]Input{1: {Seq: uint32(i + 1), Buttons: tc.buttons}}, dt, nil)
			}
			got := s.Players[0].Pos
			if math.Abs(got.X-tc.want.X) > 1e-9 || math.Abs(got.Y-tc.want.Y) > 1e-9 {
				t.Errorf("position = %+v, want %+v", got, tc.want)
			}
			if math.Abs(got.X-RoundPos(got.X)) > 1e-9 || math.Abs(got.Y-RoundPos(got.Y)) > 1e-9 {
				t.Errorf("position %+v not on the %v grid", got, PosPrecision)
			}
			if s.Players[0].LastInput != uint32(tc.ticks) {
				t.Errorf("LastInput = %d, want %d", s.Players[0].LastInput, tc.ticks)
			}
		})
	}
}

// TestNeverInsideObstacle walks players in every direction for a long time and checks
// that no position ever overlaps an obstacle or leaves the arena.
func TestNeverInsideObstacle(t *testing.T) {
	dirs := []uint8{ButtonUp, ButtonDown, ButtonLeft, ButtonRight,
		ButtonUp | ButtonLeft, ButtonUp | ButtonRight, ButtonDown | ButtonLeft, ButtonDown | ButtonRight}
	s := newState(SpawnPoints...)
	for tick := 0; tick < 5000; tick++ {
		in := map[PlayerID]Input{}
		for i, p := range s.Players {
			in[p.ID] = Input{Buttons: dirs[(tick/(37+i*11)+i)%len(dirs)]}
		}
		Step(s, in, dt, nil)
		for _, p := range s.Players {
			const e = 1e-9
			if p.Pos.X < PlayerRadius-e || p.Pos.X > Width-PlayerRadius+e || p.Pos.Y < PlayerRadius-e || p.Pos.Y > Height-PlayerRadius+e {
				t.Fatalf("tick %d: player %d left the arena at %+v", tick, p.ID, p.Pos)
			}
			for _, o := range Obstacles {
				const r = PlayerRadius - 1e-3
				if p.Pos.X+r > o.X && p.Pos.X-r < o.X+o.W && p.Pos.Y+r > o.Y && p.Pos.Y-r < o.Y+o.H {
					t.Fatalf("tick %d: player %d at %+v overlaps obstacle %+v", tick, p.ID, p.Pos, o)
				}
			}
		}
	}
}

func TestSpawnPointsAreClear(t *testing.T) {
	for _, sp := range SpawnPoints {
		for _, o := range Obstacles {
			grown := Rect{o.X - PlayerRadius, o.Y - PlayerRadius, o.W + 2*PlayerRadius, o.H + 2*PlayerRadius}
			if grown.Contains(sp) {
				t.Errorf("spawn point %+v overlaps obstacle %+v", sp, o)
			}
		}
	}
}

// fire makes player 1 shoot once at angle aim and steps n ticks with no other input.
func fire(s *State, aim float64, n int) []Event {
	ev := Step(s, map[PlayerID]Input{1: {Seq: 1, Buttons: ButtonFire, Aim: aim}}, dt, nil)
	for i := 1; i < n; i++ {
		ev = Step(s, nil, dt, ev)
	}
	return ev
}

func TestProjectiles(t *testing.T) {
	tests := []struct {
		name       string
		shooter    Vec
		target     Vec
		aim        float64
		ticks      int
		wantHealth int
		wantLeft   int // projectiles left after ticks
	}{
		{"hits target in line", Vec{4, 4}, Vec{12, 4}, 0, 30, MaxHealth - HitDamage, 0},
		{"misses when aimed away", Vec{4, 4}, Vec{12, 4}, math.Pi / 2, 20, MaxHealth, 1},
		{"blocked by obstacle", Vec{20, 18}, Vec{40, 18}, 0, 60, MaxHealth, 0},
		{"expires after lifetime", Vec{4, 13}, Vec{4, 34}, 0, int(ProjectileLife/dt) + 2, MaxHealth, 0},
		{"leaves arena", Vec{60, 2}, Vec{4, 34}, 0, 30, MaxHealth, 0},
		{"adjacent target is hit", Vec{4, 2}, Vec{6, 2}, 0, 2, MaxHealth - HitDamage, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newState(tc.shooter, tc.target)
			fire(s, tc.aim, tc.ticks)
			if h := s.Players[1].Health; h != tc.wantHealth {
				t.Errorf("target health = %d, want %d", h, tc.wantHealth)
			}
			if len(s.Projectiles) != tc.wantLeft {
				t.Errorf("%d projectiles left, want %d", len(s.Projectiles), tc.wantLeft)
			}
			if s.Players[0].Health != MaxHealth {
				t.Errorf("shooter hurt itself: health %d", s.Players[0].Health)
			}
		})
	}
}

func TestFireCooldown(t *testing.T) {
	s := newState(Vec{4, 4})
	in := map[PlayerID]Input{1: {Buttons: ButtonFire, Aim: math.Pi / 2}}
	for i := 0; i < 60; i++ {
		Step(s, in, dt, nil)
	}
	if want := int(1/FireCooldown) + 1; s.NextProjectileID != uint32(want) && s.NextProjectileID != uint32(want-1) {
		t.Errorf("fired %d shots in one second with a %v s cooldown", s.NextProjectileID, FireCooldown)
	}
}

func TestKillScoreRespawn(t *testing.T) {
	s := newState(Vec{4, 4}, Vec{10, 4})
	var events []Event
	shots := MaxHealth / HitDamage
	for i := 0; i < shots; i++ {
		events = append(events, fire(s, 0, int(FireCooldown/dt)+3)...)
	}
	victim, killer := s.Players[1], s.Players[0]
	if victim.Alive || victim.Health != 0 || victim.Deaths != 1 || killer.Kills != 1 {
		t.Fatalf("after %d hits: victim %+v, killer kills %d", shots, *victim, killer.Kills)
	}
	var kinds []EventKind
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	if want := []EventKind{EventHit, EventHit, EventHit, EventHit, EventKill}; !equalKinds(kinds, want) {
		t.Errorf("events %v, want %v", kinds, want)
	}
	// Dead players do not move and cannot be hit.
	at := victim.Pos
	Step(s, map[PlayerID]Input{2: {Seq: 9, Buttons: ButtonRight}}, dt, nil)
	if victim.Pos != at {
		t.Errorf("dead player moved to %+v", victim.Pos)
	}
	if victim.LastInput != 9 {
		t.Errorf("dead player's LastInput = %d, want 9 (inputs are acknowledged while dead)", victim.LastInput)
	}
	spawn := victim.Spawn
	left := victim.RespawnIn
	if left <= 0 || left > RespawnDelay {
		t.Fatalf("RespawnIn = %v, want in (0, %v]", left, RespawnDelay)
	}
	var respawned []Event
	ticks := 0
	for ; !victim.Alive && ticks < 1000; ticks++ {
		respawned = Step(s, nil, dt, respawned)
	}
	if got := float64(ticks) * dt; math.Abs(got-left) > 1.5*dt {
		t.Errorf("respawned after %.3f s, want %.3f", got, left)
	}
	if victim.Health != MaxHealth || victim.Spawn != spawn+1 || len(respawned) != 1 || respawned[0].Kind != EventRespawn {
		t.Errorf("after respawn: %+v, events %v", *victim, respawned)
	}
	if d := victim.Pos.Sub(killer.Pos).Len(); d < 20 {
		t.Errorf("respawned %.1f units from the only other player; want the farthest spawn point", d)
	}
}

func equalKinds(a, b []EventKind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAddRemovePlayer(t *testing.T) {
	s := &State{}
	for _, id := range []PlayerID{5, 2, 9, 1} {
		if s.AddPlayer(id, "p") == nil {
			t.Fatalf("AddPlayer(%d) failed", id)
		}
	}
	if s.AddPlayer(2, "again") != nil {
		t.Error("AddPlayer accepted a duplicate id")
	}
	for i := 1; i < len(s.Players); i++ {
		if s.Players[i-1].ID >= s.Players[i].ID {
			t.Fatalf("players not sorted: %v then %v", s.Players[i-1].ID, s.Players[i].ID)
		}
	}
	fire(s, 0, 1)
	if !s.RemovePlayer(1) || s.RemovePlayer(1) || s.Player(1) != nil {
		t.Error("RemovePlayer(1) did not remove exactly once")
	}
	if len(s.Projectiles) != 0 {
		t.Errorf("removed player's projectiles remain: %d", len(s.Projectiles))
	}
	for i := 0; i < MaxPlayers; i++ {
		s.AddPlayer(PlayerID(100+i), "")
	}
	if len(s.Players) != MaxPlayers {
		t.Errorf("%d players, want the cap %d", len(s.Players), MaxPlayers)
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alice", "alice"},
		{"", "player7"},
		{"\x00\x1b", "player7"},
		{"a very long name indeed", "a very long name"},
		{"héllo wörld ünïcødé", "héllo wörld ü"},
	}
	for _, tc := range tests {
		if got := CleanName(tc.in, 7); got != tc.want {
			t.Errorf("CleanName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	run := func() *State {
		s := newState(SpawnPoints[:4]...)
		for tick := 0; tick < 600; tick++ {
			in := map[PlayerID]Input{}
			for _, p := range s.Players {
				in[p.ID] = Input{Seq: uint32(tick), Buttons: uint8(tick/20+int(p.ID)) & buttonMask, Aim: float64(tick) * 0.05 * float64(p.ID)}
			}
			Step(s, in, dt, nil)
		}
		return s
	}
	a, b := run(), run()
	for i := range a.Players {
		if *a.Players[i] != *b.Players[i] {
			t.Fatalf("runs differ: %+v vs %+v", *a.Players[i], *b.Players[i])
		}
	}
	if len(a.Projectiles) != len(b.Projectiles) || a.NextProjectileID != b.NextProjectileID {
		t.Fatal("projectiles differ between runs")
	}
}

func TestInputEncoding(t *testing.T) {
	in := Input{Seq: 0x01020304, Buttons: ButtonUp | ButtonFire, Aim: math.Pi}
	b := AppendInput(nil, in)
	if got, want := hex.EncodeToString(b), "0403020111"+"0080"; got != want {
		t.Fatalf("encoding = %s, want %s", got, want)
	}
	out, n, err := DecodeInput(b)
	if err != nil || n != InputSize || out != in {
		t.Fatalf("DecodeInput = %+v, %d, %v; want %+v", out, n, err, in)
	}
	for _, bad := range [][]byte{nil, b[:6], {0, 0, 0, 0, 0x20, 0, 0}} {
		if _, _, err := DecodeInput(bad); !errors.Is(err, ErrBadInput) {
			t.Errorf("DecodeInput(%x) error = %v, want ErrBadInput", bad, err)
		}
	}
	if a := QuantizeAim(-math.Pi / 2); math.Abs(a-3*math.Pi/2) > 1e-4 {
		t.Errorf("QuantizeAim(-pi/2) = %v, want 3pi/2", a)
	}
	if a := QuantizeAim(math.NaN()); a != 0 {
		t.Errorf("QuantizeAim(NaN) = %v", a)
	}
}

func FuzzDecodeInput(f *testing.F) {
	f.Add(AppendInput(nil, Input{Seq: 7, Buttons: ButtonLeft, Aim: 1}))
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		in, n, err := DecodeInput(b)
		if err != nil {
			return
		}
		if re := AppendInput(nil, in); !bytes.Equal(re, b[:n]) {
			t.Fatalf("re-encoding %x gives %x", b[:n], re)
		}
	})
}
