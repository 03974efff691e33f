package client

import (
	"reflect"
	"testing"

	"github.com/volleynet/volley/examples/arena/game"
)

func TestNotices(t *testing.T) {
	s := &Session{names: map[game.PlayerID]string{}, cfg: Config{FeedLines: 2}}
	s.notice(game.Notice{Names: map[uint32]string{1: "alice", 2: "bob"}})
	s.notice(game.Notice{Kill: &game.KillNotice{Attacker: 1, Victim: 2}})
	s.notice(game.Notice{Names: map[uint32]string{1: "alice"}}) // bob left
	s.notice(game.Notice{Kill: &game.KillNotice{Attacker: 1, Victim: 2}})
	s.notice(game.Notice{Kill: &game.KillNotice{Attacker: 3, Victim: 1}})
	want := []string{"alice ✕ player2", "player3 ✕ alice"}
	if !reflect.DeepEqual(s.feed, want) {
		t.Errorf("feed = %q, want %q (the newest %d lines)", s.feed, want, s.cfg.FeedLines)
	}
}
