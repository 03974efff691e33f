package snapshot

import "encoding/binary"

// bitWriter appends a bit stream to a byte slice, least significant bit first: bit i of the
// stream is bit i%8 of byte i/8.
type bitWriter struct {
	buf []byte
	acc uint64 // pending bits, low bits first
	n   uint   // number of pending bits (< 64 between calls)
}

func (w *bitWriter) reset(buf []byte) { w.buf, w.acc, w.n = buf, 0, 0 }

// write appends the low nbits (0..32) of v.
func (w *bitWriter) write(v uint32, nbits uint) { w.write64(uint64(v), nbits) }

// write64 appends the low nbits (0..64) of v. Whole 64-bit words go out at once (the
// same bytes as any other grouping: the stream is little-endian throughout).
func (w *bitWriter) write64(v uint64, nbits uint) {
	v &= 1<<nbits - 1 // nbits 64: 1<<64 is 0 in Go, the mask all ones
	o := w.n
	w.acc |= v << o
	if n := o + nbits; n >= 64 {
		w.buf = binary.LittleEndian.AppendUint64(w.buf, w.acc)
		w.acc = v >> (64 - o) // o 0: a shift by 64 gives 0
		w.n = n - 64
	} else {
		w.n = n
	}
}

// flush pads with zero bits to a byte boundary and returns the buffer.
func (w *bitWriter) flush() []byte {
	for w.n > 0 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.n -= min(w.n, 8)
	}
	w.acc = 0
	return w.buf
}
