package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/volleynet/volley/lobby"
)

// RedisStoreConfig configures a RedisStore. The zero value works.
type RedisStoreConfig struct {
	// Prefix starts every Redis key and pub/sub channel the store uses, so that several
	// lobbies (or other applications) can share one Redis. Lobby instances that serve the
	// same rooms must use the same Prefix. Default: "volley:lobby:".
	Prefix string
	// TTL is how long the records of a lobby instance (its liveness key, the rooms its
	// connections host) outlive its last heartbeat; each Server sharing the store
	// refreshes them every TTL/3. When an instance crashes, its rooms vanish and its
	// connections stop counting as room members at most TTL later. Use the same TTL on
	// every instance. Default: 30 s.
	TTL time.Duration
	// CheckInterval is how often each Server sharing the store checks that it answers
	// and that its own records are still there: a failed check marks the store
	// unhealthy (Server.HealthHandler answers 503), and records found missing (Redis
	// restarted empty, say) are put back at once. Default: 1 s.
	CheckInterval time.Duration
}

// RedisStore is a Store shared by several lobby instances through one Redis (a single
// node, or a primary with replicas behind Sentinel; not Redis Cluster). Each Store
// method is one Lua script, so it is atomic across instances: capacity holds under
// concurrent joins through different instances.
//
// A Server whose Store is a RedisStore also relays hub events (signals, member_joined,
// member_left, room_closed) to connections held by other instances, over Redis pub/sub
// (see the package documentation). Give every instance a RedisStore on the same Redis
// with the same Prefix; one RedisStore may also back several Servers in one process.
// The store never closes the client it was given.
//
// A Server calls the store on the requesting connection's goroutine, never under a
// lock other connections need, with a deadline (Config.StoreTimeout): create the
// client with ContextTimeoutEnabled so that the deadline reaches its sockets (without
// it the client's own ReadTimeout and WriteTimeout apply, go-redis default 3 s). A
// request whose store call fails is answered "internal" (when only the reply was lost,
// its change may still have been made).
//
// Each Server keeps its own records alive: the rooms its connections host and their
// memberships. When they vanish (Redis restarted empty, or unreachable from this
// instance for longer than TTL) it puts them back within CheckInterval of Redis
// answering again (memberships in rooms hosted elsewhere within TTL/3 when only that
// other instance's records were lost); a hosted room whose ID another host has taken
// meanwhile cannot be restored and its host and members get "room_closed" with reason
// "store_lost".
type RedisStore struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
	check  time.Duration
}

// NewRedisStore returns a Store that keeps rooms in Redis through client.
func NewRedisStore(client redis.UniversalClient, cfg RedisStoreConfig) *RedisStore {
	if cfg.Prefix == "" {
		cfg.Prefix = "volley:lobby:"
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 30 * time.Second
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = time.Second
	}
	return &RedisStore{rdb: client, prefix: cfg.Prefix, ttl: cfg.TTL, check: cfg.CheckInterval}
}

// Keys (all under the prefix P):
//
//	P inst:<instance>   string, PX TTL: the instance is alive (refreshed by its heartbeat)
//	P rooms             sorted set: room IDs scored by creation sequence (oldest first)
//	P seq               counter for that sequence
//	P room:<id>         hash name, host, cap, meta, pw, game, ver; PX TTL refreshed by the host's instance
//	P members:<id>      list of member connection IDs in join order; same TTL
//	P relay:<instance>  pub/sub channel of the instance (see relay.go)
//	P route:<conn>      string, PX 3×TTL: the instance now holding a connection that
//	                    was resumed on another instance than the one its ID names
//	                    (handoff.go); refreshed by the holder
//
// A connection ID names its instance (see connInstance), or its route key does once it
// has moved (holder), so a script can tell that a host or member belongs to a dead
// instance: such a room is deleted and such a member dropped whenever a script meets
// them. The rooms index is pruned the same way, and each instance prunes the members
// of the rooms it hosts at every refresh.
const luaPrelude = `
local P = ARGV[1]
local live = {}
local function holder(id)
  local r = redis.call('GET', P .. 'route:' .. id)
  if r then return r end
  return string.sub(id, 2, 9)
end
local function alive(id)
  local inst = holder(id)
  local v = live[inst]
  if v == nil then
    v = redis.call('EXISTS', P .. 'inst:' .. inst) == 1
    live[inst] = v
  end
  return v
end
local function drop(id)
  redis.call('DEL', P .. 'room:' .. id, P .. 'members:' .. id)
  redis.call('ZREM', P .. 'rooms', id)
end
local function exists(id)
  local host = redis.call('HGET', P .. 'room:' .. id, 'host')
  if not host or not alive(host) then
    drop(id)
    return false
  end
  return true
end
local function load(id)
  local h = redis.call('HMGET', P .. 'room:' .. id, 'name', 'host', 'cap', 'meta', 'pw', 'game', 'ver')
  if not h[2] or not alive(h[2]) then
    drop(id)
    return nil
  end
  local seq = redis.call('ZSCORE', P .. 'rooms', id)
  local mk = P .. 'members:' .. id
  local members = {}
  for _, m in ipairs(redis.call('LRANGE', mk, 0, -1)) do
    if alive(m) then
      members[#members + 1] = m
    else
      redis.call('LREM', mk, 0, m)
    end
  end
  return {id, h[1] or '', h[2], tonumber(h[3]), h[4] or '', h[5] or '', members, h[6] or '', h[7] or '', tonumber(seq) or 0}
end
local function matches(r, game, ver)
  return (game == '' or r[8] == game) and (ver == '' or r[9] == ver)
end
-- scan calls f with each room of the index with a score above after (a string),
-- oldest first, until f returns true.
local function scan(after, f)
  local cur = '(' .. after
  while true do
    local batch = redis.call('ZRANGEBYSCORE', P .. 'rooms', cur, '+inf', 'WITHSCORES', 'LIMIT', 0, 64)
    if #batch == 0 then return end
    for j = 1, #batch, 2 do
      cur = '(' .. batch[j + 1]
      if f(batch[j]) then return end
    end
  end
end
local function contains(list, x)
  for _, v in ipairs(list) do
    if v == x then return true end
  end
  return false
end
`

// Script results: a room array, or one of these integers.
const (
	luaOK          = 0
	luaNotFound    = 1
	luaFull        = 2
	luaExists      = 3
	luaNoneToQuick = 4
)

var (
	// ARGV: P, id, name, host, cap, meta, pw, ttl ms, game, ver
	scriptCreate = redis.NewScript(luaPrelude + `
local rk = P .. 'room:' .. ARGV[2]
if redis.call('EXISTS', rk) == 1 then return 3 end
redis.call('HSET', rk, 'name', ARGV[3], 'host', ARGV[4], 'cap', ARGV[5], 'meta', ARGV[6], 'pw', ARGV[7], 'game', ARGV[9], 'ver', ARGV[10])
redis.call('PEXPIRE', rk, ARGV[8])
redis.call('DEL', P .. 'members:' .. ARGV[2])
redis.call('ZADD', P .. 'rooms', redis.call('INCR', P .. 'seq'), ARGV[2])
return 0
`)
	// ARGV: P, id
	scriptRoom = redis.NewScript(luaPrelude + `
local r = load(ARGV[2])
if not r then return 1 end
return r
`)
	// ARGV: P, limit, after (seq), game, ver
	scriptList = redis.NewScript(luaPrelude + `
local limit = tonumber(ARGV[2])
local out = {}
if limit <= 0 then return out end
scan(ARGV[3], function(id)
  local r = load(id)
  if r and matches(r, ARGV[4], ARGV[5]) then
    out[#out + 1] = r
  end
  return #out >= limit
end)
return out
`)
	// ARGV: P
	scriptCount = redis.NewScript(luaPrelude + `
local n = 0
for _, id in ipairs(redis.call('ZRANGE', P .. 'rooms', 0, -1)) do
  if exists(id) then n = n + 1 end
end
return n
`)
	// ARGV: P, id, peer, ttl ms
	scriptAdd = redis.NewScript(luaPrelude + `
local r = load(ARGV[2])
if not r then return 1 end
local members = r[7]
if #members >= r[4] then return 2 end
if not contains(members, ARGV[3]) then
  local mk = P .. 'members:' .. ARGV[2]
  redis.call('RPUSH', mk, ARGV[3])
  redis.call('PEXPIRE', mk, ARGV[4])
  members[#members + 1] = ARGV[3]
end
return r
`)
	// ARGV: P, peer, ttl ms, game, ver
	scriptQuickJoin = redis.NewScript(luaPrelude + `
local found
scan('-inf', function(id)
  local r = load(id)
  if r and r[6] == '' and #r[7] < r[4] and r[3] ~= ARGV[2] and matches(r, ARGV[4], ARGV[5]) then
    found = r
    return true
  end
  return false
end)
if not found then return 4 end
local mk = P .. 'members:' .. found[1]
redis.call('RPUSH', mk, ARGV[2])
redis.call('PEXPIRE', mk, ARGV[3])
found[7][#found[7] + 1] = ARGV[2]
return found
`)
	// ARGV: P, id, peer
	scriptRemove = redis.NewScript(luaPrelude + `
local r = load(ARGV[2])
if not r then return 1 end
redis.call('LREM', P .. 'members:' .. ARGV[2], 0, ARGV[3])
local rest = {}
for _, m in ipairs(r[7]) do
  if m ~= ARGV[3] then rest[#rest + 1] = m end
end
r[7] = rest
return r
`)
	// ARGV: P, id
	scriptDelete = redis.NewScript(luaPrelude + `
local r = load(ARGV[2])
if not r then return 1 end
drop(ARGV[2])
return r
`)
	// ARGV: P, connection ID, this instance, message. Publishes the message to the
	// instance holding the connection (see holder); -1 when that is this instance.
	scriptPublishTo = redis.NewScript(luaPrelude + `
local inst = holder(ARGV[2])
if inst == ARGV[3] then return -1 end
return redis.call('PUBLISH', P .. 'relay:' .. inst, ARGV[4])
`)
	// ARGV: P, connection ID, from instance, to instance, route ttl ms, marker.
	// Routes the connection to its new holder and, atomically, publishes the marker
	// to the old one: whatever was published to the old holder for the connection
	// reaches it before the marker, and nothing after. 0 when the connection's holder
	// is not from.
	scriptMoveRoute = redis.NewScript(luaPrelude + `
if holder(ARGV[2]) ~= ARGV[3] then return 0 end
redis.call('SET', P .. 'route:' .. ARGV[2], ARGV[4], 'PX', ARGV[5])
redis.call('PUBLISH', P .. 'relay:' .. ARGV[3], ARGV[6])
return 1
`)
	// ARGV: P, instance, ttl ms. Refreshes the liveness key; 0 when it had vanished
	// (then set again): the instance's other records may have vanished too.
	scriptBeat = redis.NewScript(`
local k = ARGV[1] .. 'inst:' .. ARGV[2]
if redis.call('SET', k, '1', 'PX', ARGV[3], 'XX') then return 1 end
redis.call('SET', k, '1', 'PX', ARGV[3])
return 0
`)
	// ARGV: P, ttl ms, number of rooms, number of routes, instance, route ttl ms,
	// then per room: id, name, host, cap, meta, pw, game, ver; then the IDs of the
	// connections routed here; then per membership: room, peer. Refreshes the TTL of an
	// instance's records and puts back those that vanished, and drops the dead members
	// of its rooms. A route that names another instance is left alone (its connection
	// moved on). Returns {rooms restored, members restored, {IDs of rooms held by
	// another host}, {room, peer of each membership whose room is missing}}.
	scriptRefresh = redis.NewScript(luaPrelude + `
local ttl = ARGV[2]
local nrooms, nroutes = tonumber(ARGV[3]), tonumber(ARGV[4])
local inst, routeTTL = ARGV[5], ARGV[6]
local rooms, members, lost, orphans = 0, 0, {}, {}
local i = 7
for _ = 1, nrooms do
  local id, host = ARGV[i], ARGV[i + 2]
  local rk = P .. 'room:' .. id
  local cur = redis.call('HGET', rk, 'host')
  if not cur then
    redis.call('HSET', rk, 'name', ARGV[i + 1], 'host', host, 'cap', ARGV[i + 3], 'meta', ARGV[i + 4],
      'pw', ARGV[i + 5], 'game', ARGV[i + 6], 'ver', ARGV[i + 7])
    rooms = rooms + 1
    cur = host
  end
  if cur ~= host then
    lost[#lost + 1] = id
  else
    redis.call('PEXPIRE', rk, ttl)
    local mk = P .. 'members:' .. id
    for _, m in ipairs(redis.call('LRANGE', mk, 0, -1)) do
      if not alive(m) then redis.call('LREM', mk, 0, m) end
    end
    redis.call('PEXPIRE', mk, ttl)
    if not redis.call('ZSCORE', P .. 'rooms', id) then
      redis.call('ZADD', P .. 'rooms', redis.call('INCR', P .. 'seq'), id)
    end
  end
  i = i + 8
end
for _ = 1, nroutes do
  local rk = P .. 'route:' .. ARGV[i]
  local cur = redis.call('GET', rk)
  if not cur or cur == inst then
    redis.call('SET', rk, inst, 'PX', routeTTL)
  end
  i = i + 1
end
while i < #ARGV do
  local room, peer = ARGV[i], ARGV[i + 1]
  if redis.call('EXISTS', P .. 'room:' .. room) == 1 then
    local mk = P .. 'members:' .. room
    if not redis.call('LPOS', mk, peer) then
      redis.call('RPUSH', mk, peer)
      members = members + 1
    end
    redis.call('PEXPIRE', mk, ttl)
  else
    orphans[#orphans + 1] = room
    orphans[#orphans + 1] = peer
  end
  i = i + 2
end
return {rooms, members, lost, orphans}
`)
)

func (s *RedisStore) run(ctx context.Context, script *redis.Script, args ...any) (any, error) {
	v, err := script.Run(ctx, s.rdb, nil, append([]any{s.prefix}, args...)...).Result()
	if err != nil {
		return nil, fmt.Errorf("lobby: redis store: %w", err)
	}
	return v, nil
}

func (s *RedisStore) ttlMillis() int64 { return s.ttl.Milliseconds() }

// result turns a script reply into a Room or the matching Store error.
func result(v any) (Room, error) {
	if code, ok := v.(int64); ok {
		switch code {
		case luaNotFound:
			return Room{}, lobby.ErrRoomNotFound
		case luaFull:
			return Room{}, lobby.ErrRoomFull
		case luaExists:
			return Room{}, ErrRoomExists
		case luaNoneToQuick:
			return Room{}, lobby.ErrNoRoomAvailable
		}
		return Room{}, fmt.Errorf("lobby: redis store: unexpected reply %d", code)
	}
	return parseRoom(v)
}

var errBadReply = errors.New("lobby: redis store: malformed script reply")

func parseRoom(v any) (Room, error) {
	a, ok := v.([]any)
	if !ok || len(a) != 10 {
		return Room{}, errBadReply
	}
	var str [7]string
	for i, j := range []int{0, 1, 2, 4, 5, 7, 8} {
		s, ok := a[j].(string)
		if !ok {
			return Room{}, errBadReply
		}
		str[i] = s
	}
	capacity, ok := a[3].(int64)
	members, ok2 := a[6].([]any)
	seq, ok3 := a[9].(int64)
	if !ok || !ok2 || !ok3 {
		return Room{}, errBadReply
	}
	r := Room{ID: str[0], Name: str[1], Host: str[2], Capacity: int(capacity),
		Game: str[5], GameVersion: str[6], Seq: uint64(seq)}
	if str[3] != "" {
		r.Metadata = []byte(str[3])
	}
	if str[4] != "" {
		r.PasswordHash = []byte(str[4])
	}
	for _, m := range members {
		id, ok := m.(string)
		if !ok {
			return Room{}, errBadReply
		}
		r.Members = append(r.Members, id)
	}
	return r, nil
}

// CreateRoom implements Store.
func (s *RedisStore) CreateRoom(ctx context.Context, r Room) error {
	v, err := s.run(ctx, scriptCreate, r.ID, r.Name, r.Host, r.Capacity,
		string(r.Metadata), string(r.PasswordHash), s.ttlMillis(), r.Game, r.GameVersion)
	if err != nil {
		return err
	}
	if v == int64(luaOK) {
		return nil
	}
	_, err = result(v)
	return err
}

// Room implements Store.
func (s *RedisStore) Room(ctx context.Context, id string) (Room, error) {
	v, err := s.run(ctx, scriptRoom, id)
	if err != nil {
		return Room{}, err
	}
	return result(v)
}

// ListRooms implements Store.
func (s *RedisStore) ListRooms(ctx context.Context, q ListQuery) ([]Room, error) {
	v, err := s.run(ctx, scriptList, q.Limit, strconv.FormatUint(q.After, 10), q.Game, q.GameVersion)
	if err != nil {
		return nil, err
	}
	a, ok := v.([]any)
	if !ok {
		return nil, errBadReply
	}
	out := make([]Room, 0, len(a))
	for _, e := range a {
		r, err := parseRoom(e)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// CountRooms implements Store. It walks the room index (pruning rooms whose host's
// instance is gone), so it costs O(rooms) inside Redis.
func (s *RedisStore) CountRooms(ctx context.Context) (int, error) {
	v, err := s.run(ctx, scriptCount)
	if err != nil {
		return 0, err
	}
	n, ok := v.(int64)
	if !ok {
		return 0, errBadReply
	}
	return int(n), nil
}

// AddMember implements Store.
func (s *RedisStore) AddMember(ctx context.Context, roomID, peer string) (Room, error) {
	v, err := s.run(ctx, scriptAdd, roomID, peer, s.ttlMillis())
	if err != nil {
		return Room{}, err
	}
	return result(v)
}

// QuickJoin implements Store.
func (s *RedisStore) QuickJoin(ctx context.Context, peer string, f lobby.RoomFilter) (Room, error) {
	v, err := s.run(ctx, scriptQuickJoin, peer, s.ttlMillis(), f.Game, f.GameVersion)
	if err != nil {
		return Room{}, err
	}
	return result(v)
}

// RemoveMember implements Store.
func (s *RedisStore) RemoveMember(ctx context.Context, roomID, peer string) (Room, error) {
	v, err := s.run(ctx, scriptRemove, roomID, peer)
	if err != nil {
		return Room{}, err
	}
	return result(v)
}

// DeleteRoom implements Store.
func (s *RedisStore) DeleteRoom(ctx context.Context, roomID string) (Room, error) {
	v, err := s.run(ctx, scriptDelete, roomID)
	if err != nil {
		return Room{}, err
	}
	return result(v)
}

func (s *RedisStore) instKey(inst string) string    { return s.prefix + "inst:" + inst }
func (s *RedisStore) channel(inst string) string    { return s.prefix + "relay:" + inst }
func (s *RedisStore) roomKey(id string) string      { return s.prefix + "room:" + id }
func (s *RedisStore) membersKey(id string) string   { return s.prefix + "members:" + id }
func (s *RedisStore) heartbeatEvery() time.Duration { return s.ttl / 3 }

// register claims a fresh instance ID: its liveness key, set only if absent.
func (s *RedisStore) register(ctx context.Context) (string, error) {
	for range 8 {
		var b [instanceIDLen / 2]byte
		_, _ = rand.Read(b[:])
		inst := hex.EncodeToString(b[:])
		ok, err := s.rdb.SetNX(ctx, s.instKey(inst), "1", s.ttl).Result()
		if err != nil {
			return "", fmt.Errorf("lobby: redis store: register instance: %w", err)
		}
		if ok {
			return inst, nil
		}
	}
	return "", errors.New("lobby: redis store: no free instance ID")
}

// refreshBatch bounds the records one refresh script handles (it blocks Redis while
// it runs).
const refreshBatch = 256

// refreshResult is what one refresh did.
type refreshResult struct {
	rooms, members int          // records put back
	lost           []string     // hosted rooms whose ID names another host
	orphans        []membership // memberships whose room is missing
}

// routeTTL is how long a route key outlives its holder's last refresh: longer than
// TTL plus a refresh period, so that when the holder crashes the hosts' refreshes
// prune the connection's memberships (its holder is dead) before the key expires and
// the connection would count as its first instance's again.
func (s *RedisStore) routeTTL() time.Duration { return 3 * s.ttl }

// refresh extends the TTL of an instance's records and puts back those that vanished.
func (s *RedisStore) refresh(ctx context.Context, inst string, o records) (refreshResult, error) {
	var res refreshResult
	rooms, routes, ms := o.rooms, o.routes, o.members
	for len(rooms) > 0 || len(routes) > 0 || len(ms) > 0 {
		nr := min(len(rooms), refreshBatch)
		nt := min(len(routes), refreshBatch-nr)
		nm := min(len(ms), refreshBatch-nr-nt)
		args := []any{s.ttlMillis(), nr, nt, inst, s.routeTTL().Milliseconds()}
		for _, r := range rooms[:nr] {
			args = append(args, r.ID, r.Name, r.Host, r.Capacity, string(r.Metadata), string(r.PasswordHash), r.Game, r.GameVersion)
		}
		for _, id := range routes[:nt] {
			args = append(args, id)
		}
		for _, m := range ms[:nm] {
			args = append(args, m.room, m.peer)
		}
		rooms, routes, ms = rooms[nr:], routes[nt:], ms[nm:]
		v, err := s.run(ctx, scriptRefresh, args...)
		if err != nil {
			return res, err
		}
		a, ok := v.([]any)
		if !ok || len(a) != 4 {
			return res, errBadReply
		}
		r, ok1 := a[0].(int64)
		m, ok2 := a[1].(int64)
		l, ok3 := a[2].([]any)
		o, ok4 := a[3].([]any)
		if !ok1 || !ok2 || !ok3 || !ok4 || len(o)%2 != 0 {
			return res, errBadReply
		}
		res.rooms += int(r)
		res.members += int(m)
		for _, id := range l {
			if id, ok := id.(string); ok {
				res.lost = append(res.lost, id)
			}
		}
		for i := 0; i < len(o); i += 2 {
			room, ok1 := o[i].(string)
			peer, ok2 := o[i+1].(string)
			if ok1 && ok2 {
				res.orphans = append(res.orphans, membership{room, peer})
			}
		}
	}
	return res, nil
}

// openRelay implements relayOpener: it registers a new instance, subscribes to its
// channel (waiting for Redis to confirm), and starts the goroutines that deliver what
// arrives and keep the instance's records (see heartbeat).
func (s *RedisStore) openRelay(ctx context.Context, h relayHandler) (relay, error) {
	inst, err := s.register(ctx)
	if err != nil {
		return nil, err
	}
	ps := s.rdb.Subscribe(ctx, s.channel(inst))
	if _, err := ps.Receive(ctx); err != nil { // the subscription confirmation
		_ = ps.Close()
		_ = s.rdb.Del(context.WithoutCancel(ctx), s.instKey(inst)).Err()
		return nil, fmt.Errorf("lobby: redis store: subscribe: %w", err)
	}
	r := &redisRelay{s: s, inst: inst, ps: ps, stop: make(chan struct{})}
	ch := ps.Channel(redis.WithChannelSize(relayInboxSize))
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		for m := range ch { // closed by ps.Close
			h.deliver([]byte(m.Payload))
		}
	}()
	go func() {
		defer r.wg.Done()
		r.heartbeat(h)
	}()
	return r, nil
}

// heartbeat checks the store every CheckInterval: it refreshes the instance's
// liveness key, reports whether Redis answers, and refreshes (restoring what vanished)
// the instance's rooms and memberships every TTL/3, and at once when the liveness key
// had vanished or Redis answers again after failing. A membership whose room stays
// missing is checked at every CheckInterval (its host's instance may not have put the
// room back yet); after TTL it is given up and its member told.
func (r *redisRelay) heartbeat(h relayHandler) {
	s := r.s
	t := time.NewTicker(min(s.check, s.heartbeatEvery()))
	defer t.Stop()
	lastRefresh := time.Now()
	up, pending := true, false
	orphaned := make(map[membership]time.Time) // when each was first found without its room
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(s.check, s.heartbeatEvery(), time.Second))
		v, err := s.run(ctx, scriptBeat, r.inst, s.ttlMillis())
		if err != nil {
			cancel()
			if up {
				h.relayError("heartbeat", err)
			}
			up = false
			h.storeUp(false)
			continue
		}
		if vanished := v == int64(0); vanished || pending || !up || time.Since(lastRefresh) >= s.heartbeatEvery() {
			res, err := s.refresh(ctx, r.inst, h.ownedRecords())
			if err != nil {
				cancel()
				h.relayError("refresh", err)
				pending = true // retried at the next check
				continue
			}
			lastRefresh, pending = time.Now(), false
			if res.rooms > 0 || res.members > 0 {
				h.restored(res.rooms, res.members)
			}
			for _, id := range res.lost {
				h.roomLost(id)
			}
			now := time.Now()
			seen := make(map[membership]bool, len(res.orphans))
			for _, m := range res.orphans {
				seen[m] = true
				first, ok := orphaned[m]
				if !ok {
					orphaned[m] = now
					first = now
				}
				if now.Sub(first) >= s.ttl {
					delete(orphaned, m)
					h.membershipLost(m)
				} else {
					pending = true
				}
			}
			for m := range orphaned {
				if !seen[m] {
					delete(orphaned, m)
				}
			}
		}
		cancel()
		up = true
		h.storeUp(true)
	}
}

// relayInboxSize bounds the messages buffered between Redis and the hub; go-redis drops
// a message that finds it full for a minute (the hub never blocks that long).
const relayInboxSize = 1024

// redisRelay is one Server's link to the others: Redis pub/sub, one channel per instance.
type redisRelay struct {
	s    *RedisStore
	inst string
	ps   *redis.PubSub
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func (r *redisRelay) instance() string { return r.inst }

func (r *redisRelay) publish(ctx context.Context, inst string, data []byte) (bool, error) {
	n, err := r.s.rdb.Publish(ctx, r.s.channel(inst), data).Result()
	return n > 0, err
}

func (r *redisRelay) publishTo(ctx context.Context, id string, data []byte) (delivered, here bool, err error) {
	v, err := r.s.run(ctx, scriptPublishTo, id, r.inst, data)
	if err != nil {
		return false, false, err
	}
	n, ok := v.(int64)
	if !ok {
		return false, false, errBadReply
	}
	return n > 0, n < 0, nil
}

func (r *redisRelay) moveRoute(ctx context.Context, id, to string, marker []byte) (bool, error) {
	v, err := r.s.run(ctx, scriptMoveRoute, id, r.inst, to, r.s.routeTTL().Milliseconds(), marker)
	if err != nil {
		return false, err
	}
	return v == int64(1), nil
}

// close stops the heartbeat and the subscription and deletes the liveness key, which
// also makes every record still naming this instance dead at once.
func (r *redisRelay) close(ctx context.Context) error {
	var err error
	r.once.Do(func() {
		close(r.stop)
		err = r.ps.Close()
		r.wg.Wait()
		if derr := r.s.rdb.Del(ctx, r.s.instKey(r.inst)).Err(); err == nil {
			err = derr
		}
	})
	return err
}
