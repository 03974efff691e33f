package snapshot

import (
	"encoding/binary"
	"fmt"
)

// AckLen is the encoded size of an Ack.
const AckLen = 7

// Ack tells the host which snapshot packets a client received: Latest and, for each bit i
// set in Mask, packet Latest-1-i (sequence numbers are 16 bits and wrap). Sequence number
// 0 is never used for a packet, so the zero Ack acknowledges nothing.
type Ack struct {
	Latest uint16 // the newest packet received
	Mask   uint32 // bit i: packet Latest-1-i was received too
}

// AppendAck appends the 7-byte wire form of a: version (1), Latest (uint16 LE), Mask (uint32 LE).
func AppendAck(dst []byte, a Ack) []byte {
	dst = append(dst, Version)
	dst = binary.LittleEndian.AppendUint16(dst, a.Latest)
	return binary.LittleEndian.AppendUint32(dst, a.Mask)
}

// DecodeAck decodes an ack from the start of src and returns it with the number of bytes
// used (AckLen). Trailing bytes are left to the caller.
func DecodeAck(src []byte) (Ack, int, error) {
	if len(src) < AckLen {
		return Ack{}, 0, fmt.Errorf("%w: ack needs %d bytes, got %d", ErrTruncated, AckLen, len(src))
	}
	if src[0] != Version {
		return Ack{}, 0, fmt.Errorf("%w: ack version %d", ErrVersion, src[0])
	}
	return Ack{Latest: binary.LittleEndian.Uint16(src[1:]), Mask: binary.LittleEndian.Uint32(src[3:])}, AckLen, nil
}
