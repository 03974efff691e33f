// Package deptest pins what the client-side packages may link (see deptest_test.go):
// a player program, native or in the browser, must not pull in the lobby server,
// Redis or Prometheus, and the browser build must not pull in net/http or gorilla
// (the wasm client talks to the browser's WebSocket and fetch through syscall/js).
// Run it with `go test ./internal/deptest`; it calls `go list -deps`.
package deptest
