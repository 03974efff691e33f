package main

// The floors: echo round trips on loopback over raw UDP, a raw pion data channel
// and a WebSocket, measured the same way so they can be compared.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
)

// echoOpts says how an echo floor is measured: Count pings of Size bytes, one
// every Interval, each waiting at most Timeout for its answer.
type echoOpts struct {
	Count    int
	Size     int
	Interval time.Duration
	Timeout  time.Duration
	Progress *progress
	Name     string
}

// pingPong sends numbered pings one at a time through send and measures the time
// until the same number comes back on replies. It returns the distribution and
// the number of pings that got no answer in time.
func pingPong(ctx context.Context, o echoOpts, send func([]byte) error, replies <-chan []byte) (*Dist, int, error) {
	d := &Dist{}
	lost := 0
	buf := make([]byte, max(o.Size, 8))
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	for i := range o.Count {
		seq := uint64(i + 1)
		binary.BigEndian.PutUint64(buf, seq)
		start := time.Now()
		if err := send(buf); err != nil {
			return d, lost, fmt.Errorf("%s: send: %w", o.Name, err)
		}
		timeout := time.NewTimer(o.Timeout)
	wait:
		for {
			select {
			case r := <-replies:
				if len(r) >= 8 && binary.BigEndian.Uint64(r) == seq {
					d.Add(time.Since(start))
					break wait
				}
			case <-timeout.C:
				lost++
				break wait
			case <-ctx.Done():
				timeout.Stop()
				return d, lost, ctx.Err()
			}
		}
		timeout.Stop()
		if o.Progress != nil {
			o.Progress.Tick("%s: %d/%d pings", o.Name, i+1, o.Count)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return d, lost, ctx.Err()
		}
	}
	return d, lost, nil
}

// replyQueue is the bounded queue echo replies wait in; when it is full a reply
// is dropped (and its ping counted lost), which never happens with one ping in flight.
const replyQueue = 16

func offer(ch chan []byte, p []byte) {
	select {
	case ch <- p:
	default:
	}
}

// udpEcho measures a raw UDP echo on 127.0.0.1.
func udpEcho(ctx context.Context, o echoOpts) (*Dist, int, error) {
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, 0, err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, addr, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = srv.WriteToUDP(buf[:n], addr)
		}
	})
	cli, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		srv.Close()
		wg.Wait()
		return nil, 0, err
	}
	replies := make(chan []byte, replyQueue)
	wg.Go(func() {
		for {
			buf := make([]byte, 2048)
			n, err := cli.Read(buf)
			if err != nil {
				return
			}
			offer(replies, buf[:n])
		}
	})
	defer func() {
		cli.Close()
		srv.Close()
		wg.Wait()
	}()
	return pingPong(ctx, o, func(p []byte) error { _, err := cli.Write(p); return err }, replies)
}

// wsEcho measures a gorilla WebSocket echo over loopback TCP.
func wsEcho(ctx context.Context, o echoOpts) (*Dist, int, error) {
	upgrader := websocket.Upgrader{}
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetReadLimit(maxMessageBytes)
		for {
			mt, p, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if err := conn.WriteMessage(mt, p); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	dialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := dialer.DialContext(ctx, "ws"+srv.URL[len("http"):], nil)
	if err != nil {
		return nil, 0, err
	}
	conn.SetReadLimit(maxMessageBytes)
	replies := make(chan []byte, replyQueue)
	wg.Go(func() {
		for {
			_, p, err := conn.ReadMessage()
			if err != nil {
				return
			}
			offer(replies, p)
		}
	})
	defer func() {
		conn.Close()
		wg.Wait()
	}()
	return pingPong(ctx, o, func(p []byte) error { return conn.WriteMessage(websocket.BinaryMessage, p) }, replies)
}

// pionEcho measures an echo over a raw pion data channel between two peers on
// loopback, on a channel with the given settings.
func pionEcho(ctx context.Context, o echoOpts, init *webrtc.DataChannelInit) (*Dist, int, error) {
	setupCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	pp, err := newPeerPair(setupCtx, nil, nil, []channelSpec{{"echo", init}})
	if err != nil {
		return nil, 0, fmt.Errorf("pion pair: %w", err)
	}
	defer pp.Close()
	echo := pp.Answer[0]
	echo.OnMessage(func(m webrtc.DataChannelMessage) { _ = echo.Send(m.Data) })
	replies := make(chan []byte, replyQueue)
	pp.Offer[0].OnMessage(func(m webrtc.DataChannelMessage) { offer(replies, m.Data) })
	return pingPong(ctx, o, pp.Offer[0].Send, replies)
}

// floorKinds lists the floors in table order.
var floorKinds = []struct {
	Channel string
	Run     func(context.Context, echoOpts) (*Dist, int, error)
}{
	{"udp_raw", udpEcho},
	{"pion_raw", func(ctx context.Context, o echoOpts) (*Dist, int, error) { return pionEcho(ctx, o, reliableInit) }},
	{"websocket", wsEcho},
}

// runFloors measures every floor and returns one result per floor.
func runFloors(ctx context.Context, o echoOpts) ([]Result, error) {
	var out []Result
	var errs []error
	for _, k := range floorKinds {
		o := o
		o.Name = "floor " + k.Channel
		if o.Progress != nil {
			o.Progress.Printf("%s: %d pings of %d bytes every %v", o.Name, o.Count, o.Size, o.Interval)
		}
		d, lost, err := k.Run(ctx, o)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k.Channel, err))
			continue
		}
		r := d.Row("loopback", k.Channel, "echo_rtt")
		r.Delivered = f(float64(d.Len()) / float64(d.Len()+lost))
		out = append(out, Result{Row: r, Dist: d})
	}
	return out, errors.Join(errs...)
}
