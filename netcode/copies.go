package netcode

import (
	"encoding/binary"
	"fmt"
)

// Copies (protocol version 2): small commands and events travel on the reliable
// channel and, until the other side acknowledges them, also on the unreliable one,
// so that one lost packet costs a send interval rather than an SCTP retransmission
// timeout. Both channels carry the same numbering, the one resumption uses: the
// client's k-th command message (0x11) is command k, the host's k-th event message
// (0x12) event k, counted across resumptions. The receiver delivers each number once,
// in order, from whichever channel brings it first. See "Copies" in the package doc.
const (
	kindCommandCopies byte = 0x05 // client→host
	kindEventCopies   byte = 0x06 // host→client
)

// copiesHeaderBytes precede the entries of a copies message: kind, seq, the
// acknowledgement of the other direction, the first number, the count.
const copiesHeaderBytes = 1 + 4 + 4 + 4 + 1

// copyRoom is what a copies message has for its entries (2 bytes of length each).
const copyRoom = MaxUnreliableBytes - copiesHeaderBytes

// maxCopiesBacklog: copies are sent only while the unreliable channel holds at most
// this much unsent. Copies are extra bytes; on a congested association they would
// queue ahead of the inputs, acks and snapshots that share the channel (at 10%
// loss and 100 ms RTT, inputs reached the host seconds late), and a copy that waits
// in a queue no longer beats the reliable channel anyway.
const maxCopiesBacklog = MaxUnreliableBytes

// defaultCopyBytes is the default of ClientConfig.CopyBytes and ServerConfig.CopyBytes.
const defaultCopyBytes = 256

// copyWindow holds the small messages sent on the reliable channel and not yet
// acknowledged, numbered consecutively from first, at most copyRoom bytes of them
// (entries included) and 255: exactly what one copies message carries. Bodies are
// the msgpack payloads, without the kind byte, and are never modified.
type copyWindow struct {
	first  uint32
	bodies [][]byte
	bytes  int
}

// add keeps body, message number num, if it continues the window (or starts an
// empty one), fits, and is at most maxBody bytes. It reports whether it did: a
// message it does not keep travels on the reliable channel only, and so must any
// later one until the window empties, since a copy is delivered only in order.
func (w *copyWindow) add(num uint32, body []byte, maxBody int) bool {
	n := len(w.bodies)
	switch {
	case len(body) > maxBody,
		n > 0 && w.first+uint32(n) != num,
		n == 255, w.bytes+2+len(body) > copyRoom:
		return false
	}
	if n == 0 {
		w.first = num
	}
	w.bodies = append(w.bodies, body)
	w.bytes += 2 + len(body)
	return true
}

// ack forgets the messages numbered up to n, which the other side has.
func (w *copyWindow) ack(n uint32) {
	k := 0
	for k < len(w.bodies) && !serialAfter(w.first+uint32(k), n) {
		w.bytes -= 2 + len(w.bodies[k])
		k++
	}
	if k == 0 {
		return
	}
	m := copy(w.bodies, w.bodies[k:])
	clear(w.bodies[m:])
	w.bodies = w.bodies[:m]
	w.first += uint32(k)
}

// appendCopies writes a copies message: kind, seq, acked (the count of the other
// direction's messages received), and the window's entries (first is 0 when there
// are none).
func appendCopies(dst []byte, kind byte, seq, acked uint32, w *copyWindow) []byte {
	dst = appendHeader(dst, kind, seq)
	dst = binary.BigEndian.AppendUint32(dst, acked)
	first := w.first
	if len(w.bodies) == 0 {
		first = 0
	}
	dst = binary.BigEndian.AppendUint32(dst, first)
	dst = append(dst, byte(len(w.bodies)))
	for _, b := range w.bodies {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(b)))
		dst = append(dst, b...)
	}
	return dst
}

// decodeCopies parses a copies message (its header already checked by readHeader).
// Bodies are appended to dst and alias b.
func decodeCopies(b []byte, dst [][]byte) (acked, first uint32, bodies [][]byte, err error) {
	if len(b) < copiesHeaderBytes {
		return 0, 0, dst, fmt.Errorf("%w: copies of %d bytes", ErrMalformed, len(b))
	}
	acked = binary.BigEndian.Uint32(b[5:])
	first = binary.BigEndian.Uint32(b[9:])
	n := int(b[13])
	body := b[copiesHeaderBytes:]
	for range n {
		if len(body) < 2 {
			return 0, 0, dst, fmt.Errorf("%w: truncated copy", ErrMalformed)
		}
		l := int(binary.BigEndian.Uint16(body))
		body = body[2:]
		if len(body) < l {
			return 0, 0, dst, fmt.Errorf("%w: truncated copy", ErrMalformed)
		}
		dst = append(dst, body[:l:l])
		body = body[l:]
	}
	if len(body) != 0 {
		return 0, 0, dst, fmt.Errorf("%w: %d trailing bytes in copies", ErrMalformed, len(body))
	}
	return acked, first, dst, nil
}
