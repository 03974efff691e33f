package netcode

import "time"

// tokenBucket is a rate limit: rate tokens a second, at most burst saved up. One
// goroutine owns it; time comes from the caller (the injected clock).
type tokenBucket struct {
	tokens float64
	at     time.Time
}

func newTokenBucket(burst int, now time.Time) tokenBucket {
	return tokenBucket{tokens: float64(burst), at: now}
}

// take takes one token, if the bucket holds one at now.
func (b *tokenBucket) take(now time.Time, rate float64, burst int) bool {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(burst), b.tokens+d.Seconds()*rate)
		b.at = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
