//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "the arena web client runs in a browser: build it with GOOS=js GOARCH=wasm, or run `go run ./examples/arena`")
	os.Exit(2)
}
