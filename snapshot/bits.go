package snapshot

import "encoding/binary"

// bitWriter appends a bit stream to a byte slice, least significant bit first: bit i of the
// stream is bit i%8 of byte i/8.
type bitWriter struct {
	buf []byte
	acc uint64 // pending bits, low bits first
	n   uint   // number of pending bits (< 32 between calls)
}

func (w *bitWriter) reset(buf []byte) { w.buf, w.acc, w.n = buf, 0, 0 }

// write appends the low nbits (0..32) of v.
func (w *bitWriter) write(v uint32, nbits uint) {
	w.acc |= (uint64(v) & (1<<nbits - 1)) << w.n
	w.n += nbits
	if w.n >= 32 {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(w.acc))
		w.acc >>= 32
		w.n -= 32
	}
}

// write64 appends the low nbits (0..64) of v.
func (w *bitWriter) write64(v uint64, nbits uint) {
	if nbits > 32 {
		w.write(uint32(v), 32)
		v >>= 32
		nbits -= 32
	}
	w.write(uint32(v), nbits)
}

// writeWords appends the first nbits of ws, first bit lowest in ws[0].
func (w *bitWriter) writeWords(ws []uint64, nbits uint) {
	for _, x := range ws {
		if nbits == 0 {
			return
		}
		k := min(nbits, 64)
		w.write64(x, k)
		nbits -= k
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
