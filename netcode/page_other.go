//go:build !js

package netcode

// pageHooks is the browser tab a host runs in: nothing natively.
type pageHooks struct{}

func startPage(*Server) *pageHooks { return nil }

func (*pageHooks) stop() {}

func (*pageHooks) stats() PageStats { return PageStats{} }
