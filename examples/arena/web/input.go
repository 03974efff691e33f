//go:build js && wasm

package main

import (
	"sync"
	"syscall/js"

	"github.com/volleynet/volley/examples/arena/game"
)

// keyboard tracks the keys and mouse buttons held. Browser callbacks write it; the
// frame callback reads it. (Both run on the browser's one thread, but they are
// separate goroutines to Go, hence the mutex.)
type keyboard struct {
	mu      sync.Mutex
	held    map[string]bool // KeyboardEvent.code values
	mouse   bool            // primary button held
	mx, my  float64         // mouse position in CSS pixels
	hasPos  bool
	pressed int // keydown events seen, for tests
	funcs   []js.Func
}

func newKeyboard(canvas js.Value) *keyboard {
	k := &keyboard{held: map[string]bool{}}
	win := js.Global().Get("window")
	listen := func(target js.Value, name string, f func(e js.Value)) {
		fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
			f(args[0])
			return nil
		})
		k.funcs = append(k.funcs, fn)
		target.Call("addEventListener", name, fn)
	}
	listen(win, "keydown", func(e js.Value) {
		code := e.Get("code").String()
		if gameKey(code) {
			e.Call("preventDefault")
		}
		k.mu.Lock()
		k.held[code] = true
		k.pressed++
		k.mu.Unlock()
	})
	listen(win, "keyup", func(e js.Value) {
		k.mu.Lock()
		delete(k.held, e.Get("code").String())
		k.mu.Unlock()
	})
	listen(win, "blur", func(js.Value) { // keys released while unfocused never send keyup
		k.mu.Lock()
		clear(k.held)
		k.mouse = false
		k.mu.Unlock()
	})
	listen(canvas, "mousemove", func(e js.Value) {
		k.mu.Lock()
		k.mx, k.my, k.hasPos = e.Get("clientX").Float(), e.Get("clientY").Float(), true
		k.mu.Unlock()
	})
	listen(canvas, "mousedown", func(e js.Value) {
		if e.Get("button").Int() == 0 {
			k.mu.Lock()
			k.mouse = true
			k.mx, k.my, k.hasPos = e.Get("clientX").Float(), e.Get("clientY").Float(), true
			k.mu.Unlock()
		}
		canvas.Call("focus")
	})
	listen(win, "mouseup", func(e js.Value) {
		if e.Get("button").Int() == 0 {
			k.mu.Lock()
			k.mouse = false
			k.mu.Unlock()
		}
	})
	listen(canvas, "contextmenu", func(e js.Value) { e.Call("preventDefault") })
	return k
}

// gameKey reports whether the game uses a key (its default action is suppressed).
func gameKey(code string) bool {
	switch code {
	case "KeyW", "KeyA", "KeyS", "KeyD", "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Space":
		return true
	}
	return false
}

// buttons returns the game buttons held, and the mouse position if known.
func (k *keyboard) buttons() (b uint8, mx, my float64, hasPos bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	h := k.held
	if h["KeyW"] || h["ArrowUp"] {
		b |= game.ButtonUp
	}
	if h["KeyS"] || h["ArrowDown"] {
		b |= game.ButtonDown
	}
	if h["KeyA"] || h["ArrowLeft"] {
		b |= game.ButtonLeft
	}
	if h["KeyD"] || h["ArrowRight"] {
		b |= game.ButtonRight
	}
	if h["Space"] || k.mouse {
		b |= game.ButtonFire
	}
	return b, k.mx, k.my, k.hasPos
}
