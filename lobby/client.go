package lobby

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/volleynet/volley/signaling"
)

// ClientConfig configures a Client. The zero value works.
type ClientConfig struct {
	// Logger receives connection events. Default: discard.
	Logger *slog.Logger
	// Origin is sent as the Origin header by the native transport (a browser sets its
	// own). Default: none.
	Origin string
	// SendQueue bounds outgoing messages; a send blocks (up to its context) while it is
	// full. Default: 256.
	SendQueue int
	// EventQueue bounds Events(); when it is full new events are dropped and counted in
	// DroppedEvents. Default: 64.
	EventQueue int
	// SignalQueue bounds each Signaler's received signals; a Signaler whose queue
	// overflows is closed with an error wrapping ErrSignalOverflow. Default: 256.
	SignalQueue int
	// AcceptQueue bounds members waiting in AcceptMember; a member arriving when it is
	// full gets a Signaler closed with ErrSignalOverflow. Default: 64.
	AcceptQueue int
	// ReadTimeout closes the connection when nothing (not even a ping) arrives for this
	// long (native transport). Default: 90 s.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write (native transport). Default: 10 s.
	WriteTimeout time.Duration
	// ReconnectAttempts bounds the attempts to reconnect after the WebSocket drops:
	// the client dials again and resumes its connection (same ID, room and seat;
	// Signalers keep working) while the server's grace window lasts, pausing
	// ReconnectBackoff before the first attempt and twice as long before each next
	// one, up to 5 s. Messages sent meanwhile wait in the send queue. Negative
	// disables reconnection: a drop ends the client. Default: 10.
	ReconnectAttempts int
	// ReconnectBackoff: see ReconnectAttempts. Default: 250 ms.
	ReconnectBackoff time.Duration
	// Resume, if set, is the ResumeToken of a connection to take over (kept, say,
	// across a page reload): Dial resumes it, with its ID and room, or fails with
	// an error matching ErrResumeFailed (dial again without it to start afresh).
	// Default: a new connection.
	Resume string
}

func (c ClientConfig) withDefaults() ClientConfig {
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 256
	}
	if c.EventQueue <= 0 {
		c.EventQueue = 64
	}
	if c.SignalQueue <= 0 {
		c.SignalQueue = 256
	}
	if c.AcceptQueue <= 0 {
		c.AcceptQueue = 64
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 90 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.ReconnectAttempts == 0 {
		c.ReconnectAttempts = 10
	}
	if c.ReconnectBackoff <= 0 {
		c.ReconnectBackoff = 250 * time.Millisecond
	}
	return c
}

// transport is one WebSocket: gorilla natively, the browser's WebSocket under js/wasm.
// read is called by one goroutine, write by another; close may be called at any time.
type transport interface {
	read() ([]byte, error)
	write(data []byte) error
	close() error
}

// Event is something the lobby told the client besides replies and signals.
type Event struct {
	Type   string // TypeMemberJoined, TypeMemberLeft, TypeRoomClosed, TypeDraining, TypeError, or TypeResumed after a reconnection
	RoomID string // the room concerned (not for errors or draining)
	Peer   string // member_joined, member_left
	Reason string // room_closed; draining: the lobby's explanation
	Err    *Error // error messages that answer no pending request (e.g. a failed signal)
}

// Client is a lobby connection. Its methods are safe for concurrent use. It runs one
// reader and one writer goroutine until Close or the connection ends.
type Client struct {
	cfg  ClientConfig
	url  string
	ice  []ICEServer
	out  chan []byte
	refs atomic.Uint64

	// The WebSocket: the reader replaces it when it reconnects (reconnect.go); the
	// writer waits for tready while it is down.
	tmu    sync.Mutex
	t      transport     // guarded by tmu
	tready chan struct{} // closed while t is up; guarded by tmu

	ctx        context.Context // ends with the client
	cancel     context.CancelFunc
	reconnects atomic.Uint64

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error // set before done is closed
	wg        sync.WaitGroup

	events  chan Event
	dropped atomic.Uint64
	accept  chan *PeerSignaler

	mu      sync.Mutex
	id      string                   // guarded by mu (changes only before Dial returns)
	token   string                   // guarded by mu
	grace   time.Duration            // guarded by mu
	pending map[string]chan Message  // guarded by mu
	room    string                   // guarded by mu
	host    bool                     // guarded by mu
	hostID  string                   // guarded by mu
	hostSig *PeerSignaler            // player side; guarded by mu
	members map[string]*PeerSignaler // host side, by member ID; guarded by mu
	hosting chan struct{}            // closed when the hosted room ends; guarded by mu
}

// Dial connects to the lobby WebSocket at url ("ws://host/ws") and waits for its welcome.
func Dial(ctx context.Context, url string, cfg ClientConfig) (*Client, error) {
	cfg = cfg.withDefaults()
	t, w, err := dialWelcome(ctx, url, &cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	tready := make(chan struct{})
	close(tready)
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:     cfg,
		url:     url,
		t:       t,
		tready:  tready,
		ctx:     cctx,
		cancel:  cancel,
		id:      w.ID,
		token:   w.Token,
		grace:   time.Duration(w.Grace) * time.Millisecond,
		ice:     w.ICEServers,
		out:     make(chan []byte, cfg.SendQueue),
		done:    make(chan struct{}),
		events:  make(chan Event, cfg.EventQueue),
		accept:  make(chan *PeerSignaler, cfg.AcceptQueue),
		pending: make(map[string]chan Message),
		members: make(map[string]*PeerSignaler),
	}
	if cfg.Resume != "" {
		r, err := resumeOn(ctx, t, cfg.Resume)
		if err != nil {
			_ = t.close()
			cancel()
			return nil, fmt.Errorf("lobby: dial %s: %w", url, err)
		}
		c.resumed(r)
	}
	c.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
	return c, nil
}

// ID returns the connection ID the lobby assigned (kept across reconnections).
func (c *Client) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// ICEServers returns the ICE servers the lobby sent in its welcome.
func (c *Client) ICEServers() []ICEServer { return c.ice }

// Events returns lobby events (member joined/left, room closed, unanswered errors). It
// is closed when the connection ends.
func (c *Client) Events() <-chan Event { return c.events }

// DroppedEvents returns how many events were dropped because Events was full.
func (c *Client) DroppedEvents() uint64 { return c.dropped.Load() }

// Done is closed when the connection has ended; Err then tells why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is open.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.closeErr
	default:
		return nil
	}
}

// Close closes the connection (the lobby then treats the client as having left) and
// waits for the client's goroutines to end.
func (c *Client) Close() error {
	c.fail(ErrClosed)
	c.wg.Wait()
	return nil
}

func (c *Client) fail(err error) {
	c.closeOnce.Do(func() {
		c.closeErr = err
		close(c.done)
		c.cancel()
		c.tmu.Lock()
		_ = c.t.close()
		c.tmu.Unlock()
	})
}

// RoomOptions are the parameters of a new room.
type RoomOptions struct {
	Name     string          // shown in room lists
	Capacity int             // members besides the host; 0 means the server's default
	Metadata json.RawMessage // any JSON value, shown in room lists
	Password string          // empty for an open room
	Secret   string          // the server's host secret, if it requires one
	// Game names the game the room is for and GameVersion its version, so that
	// players of that game find it (RoomFilter) and players of others do not join it.
	// Both optional; each at most the server's name limit (64 bytes by default).
	Game        string
	GameVersion string
}

// Create creates a room hosted by this client.
func (c *Client) Create(ctx context.Context, o RoomOptions) (RoomInfo, error) {
	m, err := c.request(ctx, Message{Type: TypeCreate, Name: o.Name, Capacity: o.Capacity,
		Metadata: o.Metadata, Password: o.Password, Secret: o.Secret, Game: o.Game, GameVersion: o.GameVersion})
	if err != nil {
		return RoomInfo{}, err
	}
	return *m.Room, nil
}

// RoomFilter selects rooms by the game their host announced. An empty field matches
// any room; a set one matches rooms whose field is equal (byte for byte).
type RoomFilter struct {
	Game        string // the game, as RoomOptions.Game
	GameVersion string // its version, as RoomOptions.GameVersion
}

// ListOptions selects one page of rooms.
type ListOptions struct {
	// Game and GameVersion filter the rooms as RoomFilter does.
	Game        string
	GameVersion string
	// Limit is the most rooms wanted; 0 (or more than the server allows, 100 by
	// default) means the server's maximum. The server may return fewer: a page also
	// ends before its reply would exceed the server's size limit (64 KiB by default).
	Limit int
	// Cursor continues after a previous page: pass its Next. Empty: the first page.
	Cursor string
}

// RoomPage is one page of a room list.
type RoomPage struct {
	Rooms []RoomInfo // oldest first
	// Next is the cursor of the following page (ListOptions.Cursor), "" on the last.
	Next string
}

// List returns the first page of the lobby's rooms (any game), oldest first: at most
// the server's page limit. ListPage filters and pages.
func (c *Client) List(ctx context.Context) ([]RoomInfo, error) {
	p, err := c.ListPage(ctx, ListOptions{})
	return p.Rooms, err
}

// ListPage returns one page of the rooms that match o, oldest first. Walk every room
// by passing each page's Next as the following Cursor until it is "".
func (c *Client) ListPage(ctx context.Context, o ListOptions) (RoomPage, error) {
	m, err := c.request(ctx, Message{Type: TypeList, Game: o.Game, GameVersion: o.GameVersion,
		Limit: max(o.Limit, 0), Cursor: o.Cursor})
	if err != nil {
		return RoomPage{}, err
	}
	if m.Rooms == nil {
		m.Rooms = []RoomInfo{}
	}
	return RoomPage{Rooms: m.Rooms, Next: m.Next}, nil
}

// Join joins the room with that ID (password may be empty for an open room).
func (c *Client) Join(ctx context.Context, roomID, password string) (RoomInfo, error) {
	m, err := c.request(ctx, Message{Type: TypeJoin, RoomID: roomID, Password: password})
	if err != nil {
		return RoomInfo{}, err
	}
	return *m.Room, nil
}

// QuickJoin joins the oldest open room with space, of any game. A program that plays
// one game should use QuickJoinMatching, so that it never lands in another game's room.
func (c *Client) QuickJoin(ctx context.Context) (RoomInfo, error) {
	return c.QuickJoinMatching(ctx, RoomFilter{})
}

// QuickJoinMatching joins the oldest open room with space that matches f; it fails
// with an error matching ErrNoRoomAvailable when there is none.
func (c *Client) QuickJoinMatching(ctx context.Context, f RoomFilter) (RoomInfo, error) {
	m, err := c.request(ctx, Message{Type: TypeQuickJoin, Game: f.Game, GameVersion: f.GameVersion})
	if err != nil {
		return RoomInfo{}, err
	}
	return *m.Room, nil
}

// Leave leaves the current room; a host's room closes.
func (c *Client) Leave(ctx context.Context) error {
	_, err := c.request(ctx, Message{Type: TypeLeave})
	return err
}

// Room returns the current room's ID and whether this client hosts it ("" when in none).
func (c *Client) Room() (id string, host bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.room, c.host
}

// Signal sends s to peer (a player may pass "" for its host). Delivery is not
// acknowledged: a rejected signal comes back as an Event of type TypeError.
func (c *Client) Signal(ctx context.Context, peer string, s signaling.Signal) error {
	return c.send(ctx, Message{Type: TypeSignal, To: peer, Signal: &s})
}

// HostSignaler returns the signaling path to the host of the room this client has
// joined. Its RecvSignal fails with an error wrapping signaling.ErrClosed once the
// room closes; when the client is in no room (or hosts one) it is already closed.
func (c *Client) HostSignaler() *PeerSignaler {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hostSig != nil {
		return c.hostSig
	}
	p := c.newSignaler("")
	p.closeWith(fmt.Errorf("%w: not in a room as a player", signaling.ErrClosed))
	return p
}

// AcceptMember waits for a member of the hosted room to send its first signal and
// returns the member's ID and a Signaler carrying that member's signals (demultiplexed
// by sender). The Signaler's RecvSignal fails with an error wrapping
// signaling.ErrClosed when the member leaves. AcceptMember fails with ErrNotHost when
// the client hosts no room or its room ends while waiting.
func (c *Client) AcceptMember(ctx context.Context) (string, *PeerSignaler, error) {
	c.mu.Lock()
	hosting := c.hosting
	c.mu.Unlock()
	select {
	case p := <-c.accept: // possibly a member queued before the room closed
		return p.peer, p, nil
	default:
	}
	if hosting == nil {
		return "", nil, ErrNotHost
	}
	select {
	case p := <-c.accept:
		return p.peer, p, nil
	case <-hosting:
		return "", nil, fmt.Errorf("%w: %w", ErrNotHost, ErrRoomClosed)
	case <-ctx.Done():
		return "", nil, ctx.Err()
	case <-c.done:
		return "", nil, c.closeErr
	}
}

func (c *Client) send(ctx context.Context, m Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	select {
	case <-c.done:
		return c.closeErr
	default:
	}
	select {
	case c.out <- data:
		return nil
	case <-c.done:
		return c.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) request(ctx context.Context, m Message) (Message, error) {
	m.Ref = strconv.FormatUint(c.refs.Add(1), 10)
	reply := make(chan Message, 1)
	c.mu.Lock()
	c.pending[m.Ref] = reply
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, m.Ref)
		c.mu.Unlock()
	}()
	if err := c.send(ctx, m); err != nil {
		return Message{}, err
	}
	select {
	case r := <-reply:
		if r.Type == TypeError {
			return Message{}, &Error{Code: r.Code, Message: r.Message}
		}
		if (r.Type == TypeCreated || r.Type == TypeJoined) && r.Room == nil {
			return Message{}, fmt.Errorf("%w: %s without room", ErrBadMessage, r.Type)
		}
		return r, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	case <-c.done:
		return Message{}, c.closeErr
	}
}

func (c *Client) writeLoop() {
	defer c.wg.Done()
	for {
		select {
		case data := <-c.out:
			for {
				t, ok := c.transport()
				if !ok {
					return
				}
				if err := t.write(data); err == nil {
					break
				}
				// The reader notices too, and reconnects (or ends the client);
				// data goes out on the next WebSocket.
				c.down(t)
			}
		case <-c.done:
			return
		}
	}
}

// transport waits until a WebSocket is up; ok is false once the client is done.
func (c *Client) transport() (t transport, ok bool) {
	c.tmu.Lock()
	t, ready := c.t, c.tready
	c.tmu.Unlock()
	select {
	case <-ready:
		return t, true
	case <-c.done:
		return nil, false
	}
}

// down marks WebSocket t as broken and closes it.
func (c *Client) down(t transport) {
	c.tmu.Lock()
	if c.t == t {
		select {
		case <-c.tready:
			c.tready = make(chan struct{})
		default:
		}
	}
	c.tmu.Unlock()
	_ = t.close()
}

// up installs a new WebSocket.
func (c *Client) up(t transport) {
	c.tmu.Lock()
	c.t = t
	select {
	case <-c.tready:
	default:
		close(c.tready)
	}
	c.tmu.Unlock()
}

func (c *Client) readLoop() {
	defer c.wg.Done()
	defer close(c.events)
	defer c.closeAllSignalers()
	c.tmu.Lock()
	t := c.t
	c.tmu.Unlock()
	for {
		data, err := t.read()
		if err != nil {
			select {
			case <-c.done:
				return
			default:
			}
			c.down(t)
			nt, rerr := c.reconnect(err)
			if rerr != nil {
				c.fail(rerr)
				return
			}
			c.up(nt)
			t = nt
			continue
		}
		m, err := decodeServerMessage(data)
		if err != nil {
			c.cfg.Logger.Warn("lobby client: bad message from server", "err", err)
			continue
		}
		c.dispatch(m)
	}
}

func (c *Client) event(e Event) {
	select {
	case c.events <- e:
	default:
		c.dropped.Add(1)
	}
}

// dispatch handles one server message on the reader goroutine. State changes happen
// before the reply is delivered, so signals that follow a reply route correctly.
func (c *Client) dispatch(m Message) {
	c.mu.Lock()
	switch m.Type {
	case TypeCreated:
		if m.Room != nil {
			c.room, c.host, c.hostID = m.Room.ID, true, c.id
			c.hosting = make(chan struct{})
		}
	case TypeJoined:
		if m.Room != nil {
			c.room, c.host, c.hostID = m.Room.ID, false, m.Room.Host
			c.hostSig = c.newSignaler(m.Room.Host)
		}
	case TypeLeft:
		c.leftRoomLocked()
	case TypeRoomClosed:
		if m.RoomID == c.room {
			c.leftRoomLocked()
		}
	case TypeMemberLeft:
		if p := c.members[m.Peer]; p != nil {
			delete(c.members, m.Peer)
			p.closeWith(fmt.Errorf("%w: member %s left: %w", signaling.ErrClosed, m.Peer, ErrRoomClosed))
		}
	case TypeSignal:
		if m.Signal != nil {
			c.routeSignalLocked(m.From, *m.Signal)
		}
	}
	var reply chan Message
	if m.Ref != "" {
		reply = c.pending[m.Ref]
		delete(c.pending, m.Ref)
	}
	c.mu.Unlock()

	if reply != nil {
		reply <- m // buffered 1, one reply per ref
		return
	}
	switch m.Type {
	case TypeMemberJoined, TypeMemberLeft, TypeRoomClosed:
		c.event(Event{Type: m.Type, RoomID: m.RoomID, Peer: m.Peer, Reason: m.Reason})
	case TypeError:
		c.event(Event{Type: TypeError, Err: &Error{Code: m.Code, Message: m.Message}})
	case TypeDraining:
		c.event(Event{Type: TypeDraining, Reason: m.Message})
	}
}

func (c *Client) routeSignalLocked(from string, s signaling.Signal) {
	if !c.host {
		if c.hostSig != nil && from == c.hostID {
			c.hostSig.push(s)
		}
		return
	}
	p := c.members[from]
	if p == nil {
		p = c.newSignaler(from)
		c.members[from] = p
		select {
		case c.accept <- p:
		default:
			p.closeWith(fmt.Errorf("%w: accept queue full: %w", signaling.ErrClosed, ErrSignalOverflow))
		}
	}
	p.push(s)
}

func (c *Client) leftRoomLocked() {
	err := fmt.Errorf("%w: %w", signaling.ErrClosed, ErrRoomClosed)
	if c.hostSig != nil {
		c.hostSig.closeWith(err)
		c.hostSig = nil
	}
	for id, p := range c.members {
		p.closeWith(err)
		delete(c.members, id)
	}
	if c.hosting != nil {
		close(c.hosting)
		c.hosting = nil
	}
	c.room, c.host, c.hostID = "", false, ""
}

func (c *Client) closeAllSignalers() {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := fmt.Errorf("%w: %w", signaling.ErrClosed, ErrClosed)
	if c.hostSig != nil {
		c.hostSig.closeWith(err)
	}
	for _, p := range c.members {
		p.closeWith(err)
	}
}

func (c *Client) newSignaler(peer string) *PeerSignaler {
	return &PeerSignaler{c: c, peer: peer, in: make(chan signaling.Signal, c.cfg.SignalQueue), done: make(chan struct{})}
}

// PeerSignaler is the signaling path between this client and one peer through the
// lobby: a player's host, or one member of a host's room. It implements
// signaling.Signaler.
type PeerSignaler struct {
	c    *Client
	peer string // "" for a player's host before join, otherwise the peer's ID
	in   chan signaling.Signal

	once sync.Once
	done chan struct{}
	err  error // set before done is closed
}

var _ signaling.Signaler = (*PeerSignaler)(nil)

// Peer returns the ID of the peer at the other end.
func (p *PeerSignaler) Peer() string { return p.peer }

// push queues s without blocking (called by the reader goroutine).
func (p *PeerSignaler) push(s signaling.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	select {
	case p.in <- s:
	default:
		p.closeWith(fmt.Errorf("%w: %w", signaling.ErrClosed, ErrSignalOverflow))
	}
}

func (p *PeerSignaler) closeWith(err error) {
	p.once.Do(func() {
		p.err = err
		close(p.done)
	})
}

// Close stops this Signaler locally; further signals from the peer are discarded.
func (p *PeerSignaler) Close() error {
	p.closeWith(fmt.Errorf("%w: closed by caller", signaling.ErrClosed))
	return nil
}

// SendSignal implements signaling.Signaler.
func (p *PeerSignaler) SendSignal(ctx context.Context, s signaling.Signal) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	if err := s.Validate(); err != nil {
		return err
	}
	err := p.c.send(ctx, Message{Type: TypeSignal, To: p.peer, Signal: &s})
	if errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w: %w", signaling.ErrClosed, err)
	}
	return err
}

// RecvSignal implements signaling.Signaler. Signals already queued are delivered before
// the closing error.
func (p *PeerSignaler) RecvSignal(ctx context.Context) (signaling.Signal, error) {
	select {
	case s := <-p.in:
		return s, nil
	default:
	}
	select {
	case s := <-p.in:
		return s, nil
	case <-p.done:
		select {
		case s := <-p.in:
			return s, nil
		default:
			return signaling.Signal{}, p.err
		}
	case <-ctx.Done():
		return signaling.Signal{}, ctx.Err()
	}
}
