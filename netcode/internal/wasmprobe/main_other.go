//go:build !(js && wasm)

// Command wasmprobe is the browser half of netcode's headless-Chromium test; it only
// does something when built with GOOS=js GOARCH=wasm.
package main

func main() {}
