package netcode

// Ticks and sequence numbers are 32-bit serial numbers (RFC 1982): they wrap, and
// which of two is later is decided by the shorter way round. Every comparison of
// ticks or sequence numbers in this package goes through these helpers.

// serialDiff returns a - b as the signed distance between serial numbers: positive
// when a follows b, negative when it precedes it, in [-(2³¹-1), 2³¹]. Numbers exactly
// 2³¹ apart are unordered in RFC 1982; serialDiff reports +2³¹ for them, which
// callers treat as out of any window (see serialAfter).
func serialDiff(a, b uint32) int64 {
	d := a - b
	if d <= 1<<31 {
		return int64(d)
	}
	return int64(d) - 1<<32
}

// serialAfter reports whether a follows b (RFC 1982 "a > b"); false when they are
// equal or exactly 2³¹ apart (undefined).
func serialAfter(a, b uint32) bool {
	d := serialDiff(a, b)
	return d > 0 && d < 1<<31
}
