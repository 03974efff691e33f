// Command web is the arena's browser client: Go compiled to WebAssembly that draws the
// game on a canvas through syscall/js. Build it with
//
//	GOOS=js GOARCH=wasm go build -o arena.wasm ./examples/arena/web
//
// The arena command builds and serves it by itself (see examples/arena/server). It
// talks to the lobby through the browser's WebSocket and to the host through the
// browser's RTCPeerConnection, and never links net/http, which would double its size.
//
// It exposes window.arenaState = {connected, playerId, x, y, alive, kills, deaths,
// players, frames, status, rttMs, snapshotRate}, updated every frame, and keeps
// document.title in step, so a headless browser can follow the game.
package main
