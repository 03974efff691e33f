package game

import (
	"encoding/binary"
	"fmt"
	"math"
)

// InputSize is the encoded size of one Input.
const InputSize = 7

// buttonMask holds the defined button bits; others are rejected.
const buttonMask = ButtonUp | ButtonDown | ButtonLeft | ButtonRight | ButtonFire

// QuantizeAim rounds an angle to the 16-bit grid inputs travel on, in [0, 2pi).
func QuantizeAim(a float64) float64 { return aimFromWire(aimToWire(a)) }

func aimToWire(a float64) uint16 {
	if math.IsNaN(a) || math.IsInf(a, 0) {
		return 0
	}
	turns := a / (2 * math.Pi)
	turns -= math.Floor(turns)
	return uint16(int(math.Round(turns*65536)) & 0xffff)
}

func aimFromWire(v uint16) float64 { return float64(v) * (2 * math.Pi / 65536) }

// AppendInput appends the 7-byte encoding of in to dst:
//
//	seq     uint32 little-endian
//	buttons uint8  (ButtonUp=1, Down=2, Left=4, Right=8, Fire=16)
//	aim     uint16 little-endian, in 1/65536 turns
func AppendInput(dst []byte, in Input) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, in.Seq)
	dst = append(dst, in.Buttons&buttonMask)
	return binary.LittleEndian.AppendUint16(dst, aimToWire(in.Aim))
}

// DecodeInput decodes one Input from the start of src and returns the bytes it used.
func DecodeInput(src []byte) (Input, int, error) {
	if len(src) < InputSize {
		return Input{}, 0, fmt.Errorf("%w: %d bytes, need %d", ErrBadInput, len(src), InputSize)
	}
	in := Input{
		Seq:     binary.LittleEndian.Uint32(src),
		Buttons: src[4],
		Aim:     aimFromWire(binary.LittleEndian.Uint16(src[5:])),
	}
	if in.Buttons&^buttonMask != 0 {
		return Input{}, 0, fmt.Errorf("%w: unknown buttons %#x", ErrBadInput, in.Buttons)
	}
	return in, InputSize, nil
}
