// Command schema exports the arena's snapshot schema for clients in other languages:
// the canonical JSON descriptor (arena.json, whose hash is the fingerprint hosts
// announce in their welcome) and TypeScript declarations of the entity types
// (arena.d.ts). Run it from the module root after changing the entity types:
//
//	go run ./examples/arena/cmd/schema            # writes examples/arena/schema/
//	go run ./examples/arena/cmd/schema -dir out/   # elsewhere
//
// A test fails when the checked-in files are stale. Any game exports its own
// registry the same way: Registry.Schema().JSON() and .TypeScript().
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/internal/cli"
	"github.com/volleynet/volley/snapshot"
)

func main() {
	dir := flag.String("dir", filepath.Join("examples", "arena", "schema"), "output directory")
	if err := cli.Parse(flag.CommandLine, os.Args[1:], "schema [flags]", `Writes the arena's snapshot schema for clients in other languages: arena.json (the
canonical descriptor) and arena.d.ts (TypeScript declarations). Run it from the
module root.`); err != nil {
		cli.Exit("schema", err)
	}
	if err := write(*dir, game.NewRegistry()); err != nil {
		fmt.Fprintln(os.Stderr, "schema:", err)
		os.Exit(1)
	}
	fmt.Printf("schema: wrote %s (fingerprint %s)\n", *dir, game.NewRegistry().Fingerprint())
}

// files returns the exported files by name.
func files(r *snapshot.Registry) map[string][]byte {
	s := r.Schema()
	return map[string][]byte{
		"arena.json": append(s.JSON(), '\n'),
		"arena.d.ts": s.TypeScript(),
	}
}

func write(dir string, r *snapshot.Registry) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range files(r) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
