//go:build js && wasm

package main

import (
	"fmt"
	"math"
	"syscall/js"

	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
)

// renderer draws Frames on a canvas with its 2D context.
type renderer struct {
	canvas, ctx js.Value
	// w and h are the canvas size in CSS pixels; dpr the device pixel ratio.
	w, h, dpr float64
	// scale, ox, oy and cam map arena units to CSS pixels: px = ox + (x-cam.X)*scale.
	scale, ox, oy float64
	// cam is the top-left corner of the part of the map in view: the whole
	// classic arena, or on a large map a classic arena's worth around the player.
	cam game.Vec
	// side is the width kept free on the right for the panels (0: overlay them).
	side float64
	// feedY is where the kill feed starts (under the scoreboard), set each frame.
	feedY float64
}

func newRenderer(canvas js.Value) *renderer {
	return &renderer{canvas: canvas, ctx: canvas.Call("getContext", "2d")}
}

// resize matches the canvas backing store to its CSS size and recomputes the arena
// transform; it is cheap when nothing changed.
func (r *renderer) resize() {
	win := js.Global().Get("window")
	w, h := win.Get("innerWidth").Float(), win.Get("innerHeight").Float()
	dpr := win.Get("devicePixelRatio").Float()
	if dpr <= 0 {
		dpr = 1
	}
	if w != r.w || h != r.h || dpr != r.dpr {
		r.w, r.h, r.dpr = w, h, dpr
		r.canvas.Set("width", int(w*dpr))
		r.canvas.Set("height", int(h*dpr))
	}
	const margin = 16
	// A wide window gets a sidebar for the panels; a narrow one overlays them.
	r.side = 0
	if w >= 900 {
		r.side = sidebarWidth + margin
	}
	// The view is one classic arena: all of it, or a window of a large map.
	r.scale = math.Min((w-2*margin-r.side)/game.Width, (h-2*margin)/game.Height)
	if r.scale < 1 {
		r.scale = 1
	}
	r.ox = (w - r.side - game.Width*r.scale) / 2
	r.oy = (h - game.Height*r.scale) / 2
}

// maxBoard is the most scoreboard lines drawn.
const maxBoard = 12

// sidebarWidth is the width of the panels.
const sidebarWidth = 230.0

// panelX returns the left edge of the panels.
func (r *renderer) panelX() float64 { return r.w - sidebarWidth - 12 }

// toArena converts a point in CSS pixels to arena coordinates.
func (r *renderer) toArena(px, py float64) game.Vec {
	return game.Vec{X: (px-r.ox)/r.scale + r.cam.X, Y: (py-r.oy)/r.scale + r.cam.Y}
}

func (r *renderer) px(v game.Vec) (float64, float64) {
	return r.ox + (v.X-r.cam.X)*r.scale, r.oy + (v.Y-r.cam.Y)*r.scale
}

// follow points the camera: at the whole classic arena, or on a large map at the
// classic arena's worth centred on the local player (kept inside the map).
func (r *renderer) follow(f *client.Frame) {
	m := f.Map
	if m == nil || m.Tiles == 1 {
		r.cam = game.Vec{}
		return
	}
	self, ok := f.SelfView()
	if !ok {
		return // keep looking where we were
	}
	r.cam = game.Vec{
		X: math.Min(math.Max(self.Pos.X-game.Width/2, 0), m.Width-game.Width),
		Y: math.Min(math.Max(self.Pos.Y-game.Height/2, 0), m.Height-game.Height),
	}
}

// playerColor gives every player a stable, distinct hue.
func playerColor(id game.PlayerID, light int) string {
	hue := math.Mod(float64(id)*137.508, 360)
	return fmt.Sprintf("hsl(%.0f,70%%,%d%%)", hue, light)
}

func (r *renderer) draw(f *client.Frame) {
	c := r.ctx
	c.Call("setTransform", r.dpr, 0, 0, r.dpr, 0, 0)
	c.Set("fillStyle", "#0d1117")
	c.Call("fillRect", 0, 0, r.w, r.h)

	// Floor, grid and walls of the part of the map in view; the world is clipped
	// to it.
	r.follow(f)
	m := f.Map
	if m == nil {
		m = game.DefaultMap
	}
	s := r.scale
	c.Call("save")
	c.Call("beginPath")
	c.Call("rect", r.ox, r.oy, game.Width*s, game.Height*s)
	c.Call("clip")
	c.Set("fillStyle", "#161b22")
	c.Call("fillRect", r.ox, r.oy, game.Width*s, game.Height*s)
	c.Set("strokeStyle", "#1f2630")
	c.Set("lineWidth", 1)
	c.Call("beginPath")
	for x := math.Floor(r.cam.X/4)*4 + 4; x < r.cam.X+game.Width; x += 4 {
		px, _ := r.px(game.Vec{X: x})
		c.Call("moveTo", px, r.oy)
		c.Call("lineTo", px, r.oy+game.Height*s)
	}
	for y := math.Floor(r.cam.Y/4)*4 + 4; y < r.cam.Y+game.Height; y += 4 {
		_, py := r.px(game.Vec{Y: y})
		c.Call("moveTo", r.ox, py)
		c.Call("lineTo", r.ox+game.Width*s, py)
	}
	c.Call("stroke")
	c.Set("strokeStyle", "#3d4a5c")
	c.Set("lineWidth", 2)
	mx, my := r.px(game.Vec{})
	c.Call("strokeRect", mx, my, m.Width*s, m.Height*s)
	c.Set("fillStyle", "#30394a")
	for _, o := range m.Obstacles {
		if o.X > r.cam.X+game.Width || o.X+o.W < r.cam.X || o.Y > r.cam.Y+game.Height || o.Y+o.H < r.cam.Y {
			continue
		}
		ox, oy := r.px(game.Vec{X: o.X, Y: o.Y})
		c.Call("fillRect", ox, oy, o.W*s, o.H*s)
	}

	// Projectiles.
	for _, p := range f.Projectiles {
		x, y := r.px(p.Pos)
		c.Set("fillStyle", playerColor(p.Owner, 75))
		c.Call("beginPath")
		c.Call("arc", x, y, math.Max(2, game.ProjectileRadius*s*1.4), 0, 2*math.Pi)
		c.Call("fill")
	}

	// Players: body, aim, name and health bar.
	c.Set("textAlign", "center")
	c.Set("font", fmt.Sprintf("%dpx system-ui, sans-serif", int(math.Max(10, s*0.55))))
	for _, p := range f.Players {
		x, y := r.px(p.Pos)
		rad := game.PlayerRadius * s
		if !p.Alive {
			c.Set("fillStyle", "#8b949e")
			c.Call("fillText", fmt.Sprintf("%s respawns in %.1fs", p.Name, p.RespawnIn), x, y)
			continue
		}
		c.Set("fillStyle", playerColor(p.ID, 58))
		c.Call("beginPath")
		c.Call("arc", x, y, rad, 0, 2*math.Pi)
		c.Call("fill")
		if p.Local {
			c.Set("strokeStyle", "#ffffff")
			c.Set("lineWidth", 2)
			c.Call("stroke")
		}
		c.Set("strokeStyle", "#e6edf3")
		c.Set("lineWidth", math.Max(2, s*0.18))
		c.Call("beginPath")
		c.Call("moveTo", x, y)
		c.Call("lineTo", x+math.Cos(p.Aim)*rad*1.7, y+math.Sin(p.Aim)*rad*1.7)
		c.Call("stroke")
		// Health bar above, name above that.
		bw, bh := rad*2.4, math.Max(3, s*0.18)
		bx, by := x-bw/2, y-rad-bh-4
		c.Set("fillStyle", "#3a1d1d")
		c.Call("fillRect", bx, by, bw, bh)
		c.Set("fillStyle", healthColor(p.Health))
		c.Call("fillRect", bx, by, bw*float64(p.Health)/game.MaxHealth, bh)
		c.Set("fillStyle", "#e6edf3")
		c.Call("fillText", p.Name, x, by-4)
	}
	c.Call("restore")

	r.drawScoreboard(f)
	r.drawNetPanel(f)
	r.drawFeed(f)
}

func healthColor(h int) string {
	switch {
	case h > 60:
		return "#3fb950"
	case h > 30:
		return "#d29922"
	default:
		return "#f85149"
	}
}

// panel draws a translucent box and returns the left x and first baseline.
func (r *renderer) panel(x, y, w, h float64) {
	c := r.ctx
	c.Set("fillStyle", "rgba(1,4,9,0.72)")
	c.Call("fillRect", x, y, w, h)
}

func (r *renderer) drawScoreboard(f *client.Frame) {
	c := r.ctx
	board := f.Scoreboard()
	if len(board) > maxBoard { // a crowd on a large map: the leaders
		board = board[:maxBoard]
	}
	const line = 17.0
	w, h := sidebarWidth, 26+line*float64(len(board))
	x, y := r.panelX(), 12.0
	r.panel(x, y, w, h)
	r.feedY = y + h + 22
	c.Set("font", "bold 13px system-ui, sans-serif")
	c.Set("fillStyle", "#e6edf3")
	c.Set("textAlign", "left")
	c.Call("fillText", "Player", x+10, y+18)
	c.Set("textAlign", "right")
	c.Call("fillText", "K", x+w-48, y+18)
	c.Call("fillText", "D", x+w-12, y+18)
	c.Set("font", "13px system-ui, sans-serif")
	for i, p := range board {
		by := y + 18 + line*float64(i+1)
		c.Set("fillStyle", playerColor(p.ID, 65))
		c.Set("textAlign", "left")
		name := p.Name
		if p.Local {
			name += " (you)"
		}
		c.Call("fillText", name, x+10, by)
		c.Set("textAlign", "right")
		c.Set("fillStyle", "#e6edf3")
		c.Call("fillText", fmt.Sprint(p.Kills), x+w-48, by)
		c.Call("fillText", fmt.Sprint(p.Deaths), x+w-12, by)
	}
}

func (r *renderer) drawNetPanel(f *client.Frame) {
	c := r.ctx
	n := f.Net
	lines := []string{
		fmt.Sprintf("rtt %d ms  jitter %.1f ms", n.RTT.Milliseconds(), float64(n.Jitter.Microseconds())/1000),
		fmt.Sprintf("loss down %.1f%%  up %.1f%%", n.LossDown*100, n.LossUp*100),
		fmt.Sprintf("snapshots %.0f/s", n.SnapshotRate),
		fmt.Sprintf("kbit/s down %.1f  up %.1f", n.KbpsDown, n.KbpsUp),
		fmt.Sprintf("unacked inputs %d  fixes %d", n.Pending, n.Corrections),
		fmt.Sprintf("entities received %d", n.Entities),
		fmt.Sprintf("link %s  restarts %d (%d failed)  resumes %d", n.Link, n.Restarts, n.RestartsFailed, n.Resumes),
	}
	const line = 16.0
	w, h := sidebarWidth, 10+line*float64(len(lines))
	x, y := r.panelX(), r.h-h-12
	if r.side == 0 {
		x = 12
	}
	r.panel(x, y, w, h)
	c.Set("font", "12px ui-monospace, monospace")
	c.Set("textAlign", "left")
	c.Set("fillStyle", "#8b949e")
	for i, l := range lines {
		c.Call("fillText", l, x+8, y+line*float64(i+1))
	}
	if r.side > 0 {
		c.Set("font", "12px system-ui, sans-serif")
		c.Set("fillStyle", "#6e7681")
		c.Call("fillText", "WASD or arrows: move   mouse: aim", x+2, y-26)
		c.Call("fillText", "click or space: shoot", x+2, y-10)
	}
}

func (r *renderer) drawFeed(f *client.Frame) {
	c := r.ctx
	c.Set("font", "13px system-ui, sans-serif")
	c.Set("textAlign", "left")
	x, y := r.panelX()+4, r.feedY
	if r.side == 0 {
		x, y = 14, 24
	}
	if f.Status != "" {
		c.Set("fillStyle", "#f0883e")
		c.Call("fillText", f.Status, x, y)
		y += 18
	}
	c.Set("fillStyle", "#e6edf3")
	for _, l := range f.Feed {
		c.Call("fillText", l, x, y)
		y += 17
	}
}
