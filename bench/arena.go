package main

import (
	"fmt"

	"github.com/volleynet/volley/internal/arenatrace"
	"github.com/volleynet/volley/snapshot"
)

// arenaRegistry returns a registry with the arena trace's entity types.
func arenaRegistry() (*snapshot.Registry, error) {
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(arenatrace.PlayerType, arenatrace.Player{}); err != nil {
		return nil, err
	}
	if _, err := reg.Register(arenatrace.ProjectileType, arenatrace.Projectile{}); err != nil {
		return nil, err
	}
	return reg, nil
}

// arenaWorld mirrors the arena trace into a snapshot.World, tick by tick.
type arenaWorld struct {
	sim   *arenatrace.Sim
	World *snapshot.World // the world Step writes unless StepInto names another
	live  map[uint32]bool // projectile IDs in World
	seen  map[uint32]bool
}

func newArenaWorld(reg *snapshot.Registry, players int, seed uint64) *arenaWorld {
	a := &arenaWorld{
		sim:   arenatrace.New(arenatrace.Config{Players: players, Seed: seed}),
		World: snapshot.NewWorld(reg),
		live:  map[uint32]bool{},
		seen:  map[uint32]bool{},
	}
	return a
}

// Step advances the trace one tick and copies its state into World.
func (a *arenaWorld) Step() error { return a.StepInto(a.World) }

// StepInto advances the trace one tick and copies its state into w (always
// the same world: removals are tracked across calls).
func (a *arenaWorld) StepInto(w *snapshot.World) error {
	a.sim.Step()
	st := a.sim.State()
	for i := range st.Players {
		p := &st.Players[i]
		if err := w.Set(snapshot.EntityID(p.ID), arenatrace.PlayerType, p); err != nil {
			return fmt.Errorf("player %d: %w", p.ID, err)
		}
	}
	clear(a.seen)
	for i := range st.Projectiles {
		p := &st.Projectiles[i]
		if err := w.Set(snapshot.EntityID(p.ID), arenatrace.ProjectileType, p); err != nil {
			return fmt.Errorf("projectile %d: %w", p.ID, err)
		}
		a.seen[p.ID] = true
	}
	for id := range a.live {
		if !a.seen[id] {
			w.Remove(snapshot.EntityID(id))
			delete(a.live, id)
		}
	}
	for id := range a.seen {
		a.live[id] = true
	}
	return nil
}
