//go:build js && wasm

// Command hello is the wasm program of the browsertest test: it tells the page it ran.
package main

import "syscall/js"

func main() {
	js.Global().Set("helloResult", "hello from wasm")
}
