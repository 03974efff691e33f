//go:build !js

package lobby

import "testing"

func BenchmarkDecodeMessage(b *testing.B) {
	data := []byte(`{"type":"signal","to":"c0123456789abcdef","signal":{"type":"ice","candidate":"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeMessage(data); err != nil {
			b.Fatal(err)
		}
	}
}
