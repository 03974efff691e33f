//go:build !(js && wasm)

// Command wasmhost is the browser half of netcode's browser-host tests; it only does
// something when built with GOOS=js GOARCH=wasm.
package main

func main() {}
