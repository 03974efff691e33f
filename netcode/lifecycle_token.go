package netcode

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// Resume tokens are opaque to clients: base64url (no padding) of
//
//	version u8 (1) | client ID u32 | generation u32 | HMAC-SHA256(key, first 9 bytes)[:16]
//
// signed with the Server's random key, so a token is only good on the host process
// that issued it. The generation makes a token single-use: a successful resumption
// issues the next one.
const (
	tokenVersion  = 1
	tokenBodyLen  = 9
	tokenMACLen   = 16
	tokenBytes    = tokenBodyLen + tokenMACLen
	tokenChars    = (tokenBytes*8 + 5) / 6
	tokenKeyBytes = 32
)

// resumeToken is a token's content.
type resumeToken struct {
	id  ClientID
	gen uint32
}

// signToken returns the token of t under key.
func signToken(key []byte, t resumeToken) string {
	var b [tokenBytes]byte
	b[0] = tokenVersion
	binary.BigEndian.PutUint32(b[1:], uint32(t.id))
	binary.BigEndian.PutUint32(b[5:], t.gen)
	m := hmac.New(sha256.New, key)
	m.Write(b[:tokenBodyLen])
	copy(b[tokenBodyLen:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// parseToken checks a token's form and signature; every failure wraps
// ErrResumeInvalid.
func parseToken(key []byte, s string) (resumeToken, error) {
	if len(s) != tokenChars {
		return resumeToken{}, fmt.Errorf("%w: token of %d characters", ErrResumeInvalid, len(s))
	}
	var b [tokenBytes]byte
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(s))
	if err != nil || n != tokenBytes {
		return resumeToken{}, fmt.Errorf("%w: token is not base64url", ErrResumeInvalid)
	}
	if b[0] != tokenVersion {
		return resumeToken{}, fmt.Errorf("%w: token version %d", ErrResumeInvalid, b[0])
	}
	m := hmac.New(sha256.New, key)
	m.Write(b[:tokenBodyLen])
	if !hmac.Equal(m.Sum(nil)[:tokenMACLen], b[tokenBodyLen:]) {
		return resumeToken{}, fmt.Errorf("%w: bad token signature", ErrResumeInvalid)
	}
	return resumeToken{id: ClientID(binary.BigEndian.Uint32(b[1:])), gen: binary.BigEndian.Uint32(b[5:])}, nil
}
