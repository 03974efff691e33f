package server

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/volleynet/volley/internal/redistest"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/signaling"
)

var slowReaders = flag.Int("slowreaders", 1, "TestSlowReaderAttack: number of attacking connections")

// bigMetadata is room metadata of exactly n bytes of JSON.
func bigMetadata(n int) json.RawMessage {
	return json.RawMessage(`{"blob":"` + strings.Repeat("x", n-len(`{"blob":""}`)) + `"}`)
}

// fillRooms opens n host connections, each hosting a room with metadata of metaBytes;
// they read (and discard) everything the lobby sends them afterwards.
func fillRooms(t testing.TB, url string, n, metaBytes int) {
	t.Helper()
	create, err := json.Marshal(lobby.Message{Type: lobby.TypeCreate, Capacity: 8, Metadata: bigMetadata(metaBytes)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	for range n {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.WriteMessage(websocket.TextMessage, create); err != nil {
			t.Fatal(err)
		}
		for { // welcome, then created
			var m lobby.Message
			if err := c.ReadJSON(&m); err != nil {
				t.Fatal(err)
			}
			if m.Type == lobby.TypeCreated {
				break
			}
			if m.Type == lobby.TypeError {
				t.Fatalf("create: %s %s", m.Code, m.Message)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
}

// heapInuse returns the heap in use after a garbage collection.
func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestSlowReaderAttack reproduces finding 1 of issue 11: with 100 rooms of 4 KB
// metadata, connections that send "list" at the allowed rate (50/s) and never read
// must be dropped as slow consumers before the lobby's heap grows by their replies.
// It logs the heap before, at its peak during the attack, and after:
//
//	go test -run TestSlowReaderAttack -v -count=1 ./lobby/server [-args -slowreaders=4]
func TestSlowReaderAttack(t *testing.T) {
	env := newEnv(t, Config{})
	fillRooms(t, env.url, 100, 4096)
	before := heapInuse()

	n := *slowReaders
	var peak uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // sample the heap while the attack runs
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	var wg sync.WaitGroup
	sent := make([]int, n)
	start := time.Now()
	for i := range n {
		c, _, err := websocket.DefaultDialer.Dial(env.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Add(1)
		go func() { // list every 20 ms (the default 50/s) and never read
			defer wg.Done()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for time.Since(start) < 20*time.Second {
				if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"list"}`)); err != nil {
					return // the lobby dropped us
				}
				sent[i]++
				<-tick.C
			}
		}()
	}
	waitFor(t, 30*time.Second, fmt.Sprintf("%d slow readers to be dropped", n), func() bool {
		return env.metric(t, "lobby_rejections_total", lobby.ReasonSlowConsumer) >= float64(n)
	})
	dropped := time.Since(start)
	close(stop)
	<-sampled
	wg.Wait()
	after := heapInuse()
	t.Logf("%d slow reader(s): heap in use %.1f MB before, peak %.1f MB during, %.1f MB after; dropped within %v after %v lists",
		n, mb(before), mb(peak), mb(after), dropped.Round(10*time.Millisecond), sent)
	// Each dropped reader may have cost its queue (SendQueueBytes) plus one reply and
	// the socket buffers; the bound below is generous and far under the 112 MB one such
	// reader cost before queues were bounded in bytes.
	if grow := int64(peak) - int64(before); grow > int64(n)*24<<20 {
		t.Fatalf("heap grew by %.1f MB under %d slow readers", mb(uint64(grow)), n)
	}
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

// BenchmarkSignalLatency measures honest signal relay latency (a player's signal to its
// host, one way, both on one instance) while others load the lobby, and reports its p50
// and p99 (finding 2 of issue 11):
//
//   - idle: nothing else happens.
//   - list-load: 40 connections send "list" at the allowed rate (50/s each) over 100
//     rooms with 4 KB metadata, reading their replies.
//   - redis-slow: the rooms live in Redis, which is paused for 200 ms of every 250 ms
//     (CLIENT PAUSE), while 10 connections list at 5/s.
//
// Run: go test -run '^$' -bench SignalLatency -benchtime 300x ./lobby/server
func BenchmarkSignalLatency(b *testing.B) {
	b.Run("idle", func(b *testing.B) {
		env := newEnv(b, Config{})
		benchSignalLatency(b, env.url)
	})
	b.Run("list-load", func(b *testing.B) {
		env := newEnv(b, Config{})
		fillRooms(b, env.url, 100, 4096)
		replies, stop := startListers(b, env.url, 40, 20*time.Millisecond)
		defer stop()
		t0, r0 := time.Now(), replies.Load()
		benchSignalLatency(b, env.url)
		b.ReportMetric(float64(replies.Load()-r0)/time.Since(t0).Seconds(), "lists/s")
		b.ReportMetric(env.metric(b, "lobby_rejections_total", lobby.ReasonSlowConsumer), "dropped")
	})
	b.Run("redis-slow", func(b *testing.B) {
		addr := redisAddr(b)
		cfg := Config{}
		cfg.Store = NewRedisStore(newRedisClient(b, addr), RedisStoreConfig{Prefix: "slow:"})
		env := newEnv(b, cfg)
		fillRooms(b, env.url, 20, 256)
		_, stop := startListers(b, env.url, 10, 200*time.Millisecond)
		defer stop()
		stopPause := pauseRedis(b, addr, 200*time.Millisecond, 250*time.Millisecond)
		defer stopPause()
		benchSignalLatency(b, env.url)
	})
}

// startListers starts n connections that each send "list" every period and read the
// replies (counted in replies); stop ends them.
func startListers(t testing.TB, url string, n int, period time.Duration) (replies *atomic.Int64, stop func()) {
	t.Helper()
	replies = new(atomic.Int64)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				replies.Add(1)
			}
		}()
		go func() {
			defer wg.Done()
			defer c.Close()
			tick := time.NewTicker(period)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"list"}`)); err != nil {
						return
					}
				}
			}
		}()
	}
	return replies, func() {
		close(done)
		wg.Wait()
	}
}

// benchSignalLatency times b.N signals from a player to its host (one way, one at a
// time, 10 ms apart) and reports their p50 and p99.
func benchSignalLatency(b *testing.B, url string) {
	ctx := context.Background()
	host := dialClient(b, url)
	room, err := host.Create(ctx, lobby.RoomOptions{Name: "honest"})
	if err != nil {
		b.Fatal(err)
	}
	player := dialClient(b, url)
	if _, err := player.Join(ctx, room.ID, ""); err != nil {
		b.Fatal(err)
	}
	toHost := player.HostSignaler()
	s := signaling.Signal{Type: signaling.TypeICE, Candidate: "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host"}
	if err := toHost.SendSignal(ctx, s); err != nil {
		b.Fatal(err)
	}
	_, member, err := host.AcceptMember(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := member.RecvSignal(ctx); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	pace := time.NewTicker(10 * time.Millisecond)
	defer pace.Stop()
	for b.Loop() {
		<-pace.C
		t0 := time.Now()
		if err := toHost.SendSignal(ctx, s); err != nil {
			b.Fatal(err)
		}
		if _, err := member.RecvSignal(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// pauseRedis pauses every client of the Redis at addr for pause out of every period
// (CLIENT PAUSE), until stop.
func pauseRedis(t testing.TB, addr string, pause, period time.Duration) (stop func()) {
	rdb := newRedisClient(t, addr)
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			_ = rdb.Do(context.Background(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err()
			select {
			case <-done:
				_ = rdb.Do(context.Background(), "CLIENT", "UNPAUSE").Err()
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		<-ended
	}
}

func redisAddr(t testing.TB) string { return redistest.Start(t) }
