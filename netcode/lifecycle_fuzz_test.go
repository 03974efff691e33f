//go:build !js

package netcode

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseToken: any string either parses to a token that signs back to exactly that
// string, or fails with ErrResumeInvalid; nothing panics.
func FuzzParseToken(f *testing.F) {
	key := make([]byte, tokenKeyBytes)
	good := signToken(key, resumeToken{id: 7, gen: 1})
	f.Add(good)
	f.Add("")
	f.Add(good[:len(good)-1])
	f.Add(good + "A")
	f.Add(strings.Repeat("A", tokenChars))
	f.Add(strings.Repeat("/", tokenChars))
	f.Add(signToken([]byte("another host"), resumeToken{id: 7, gen: 1}))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := parseToken(key, s)
		if err != nil {
			if !errors.Is(err, ErrResumeInvalid) {
				t.Fatalf("parseToken(%q): %v, want ErrResumeInvalid", s, err)
			}
			return
		}
		if back := signToken(key, tok); back != s {
			t.Fatalf("parseToken(%q) = %+v, which signs to %q", s, tok, back)
		}
	})
}

// FuzzDecodeAck: an acknowledgement either decodes, with a key of 0 or 16 bytes, or
// fails with ErrMalformed or ErrTooLarge; nothing panics or allocates by a claimed
// length (msgguard).
func FuzzDecodeAck(f *testing.F) {
	for _, a := range []ackMsg{{}, {Events: 3}, {Commands: 1 << 31}, {Events: 1, Key: make([]byte, resumeKeyBytes)}} {
		msg, err := marshalMessage(kindAck, a)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg[1:])
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x81, 0xa3, 'k', 'e', 'y', 0xc4, 0x03, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAck(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("decodeAck(%x): %v", b, err)
			}
			return
		}
		if len(a.Key) != 0 && len(a.Key) != resumeKeyBytes {
			t.Fatalf("decodeAck(%x) gave a %d-byte key", b, len(a.Key))
		}
	})
}

// TestTokenGolden pins the token layout: version 1, client ID, generation, truncated
// HMAC-SHA256, in base64url without padding.
func TestTokenGolden(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	got := signToken(key, resumeToken{id: 0x01020304, gen: 5})
	if len(got) != tokenChars || !strings.HasPrefix(got, "AQECAwQAAAAF") {
		t.Fatalf("token %q: want %d characters starting with AQECAwQAAAAF (01 01020304 00000005)", got, tokenChars)
	}
	tok, err := parseToken(key, got)
	if err != nil || tok != (resumeToken{id: 0x01020304, gen: 5}) {
		t.Fatalf("parseToken: %+v, %v", tok, err)
	}
}
