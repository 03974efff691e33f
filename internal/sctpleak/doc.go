// Package sctpleak holds a regression test for the pion/sctp patch carried in
// third_party/pion/sctp (see PATCHED.md there): an association whose client
// handshake fails must be closed, or a late answer from the peer blocks its read
// loop forever and its goroutines leak. Run it with `go test -race ./internal/sctpleak`.
package sctpleak
