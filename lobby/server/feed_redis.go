package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The room feed across instances: every instance publishes the IDs of the rooms that
// changed through it (space-separated, batched) on one pub/sub channel, P roomfeed;
// an instance with feed streams open listens to it and reads those rooms back from
// Redis. A notice lost while a subscription reconnects is caught up by the feed's
// periodic full re-read (Config.FeedResync).

func (s *RedisStore) feedChannel() string { return s.prefix + "roomfeed" }

// notifyRooms implements roomNotifier.
func (s *RedisStore) notifyRooms(ctx context.Context, ids []string) error {
	return s.rdb.Publish(ctx, s.feedChannel(), strings.Join(ids, " ")).Err()
}

// listenRooms implements roomNotifier.
func (s *RedisStore) listenRooms(ctx context.Context, f func(ids []string)) (func() error, error) {
	ps := s.rdb.Subscribe(ctx, s.feedChannel())
	if _, err := ps.Receive(ctx); err != nil { // the subscription confirmation
		_ = ps.Close()
		return nil, fmt.Errorf("lobby: redis store: subscribe to the room feed: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ps.Channel(redis.WithChannelSize(relayInboxSize)) { // closed by ps.Close
			f(strings.Fields(m.Payload))
		}
	}()
	return func() error {
		err := ps.Close()
		<-done
		return err
	}, nil
}
