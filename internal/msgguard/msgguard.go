// Package msgguard guards msgpack decoding of untrusted bytes.
//
// github.com/vmihailenco/msgpack/v5 preallocates a slice from the length that an array
// header claims, so five bytes (dd ff ff ff ff) can make it allocate tens of gigabytes.
// Check walks the encoded value once, without allocating, and rejects it if any
// container claims more elements than the bytes that remain could hold, if a string,
// binary or extension claims more bytes than remain, if it nests too deeply, if it is
// malformed or if it does not end exactly at the end of the input. Unmarshal runs Check
// and then msgpack.Unmarshal.
package msgguard

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// DefaultMaxBytes is the size cap Unmarshal applies.
const DefaultMaxBytes = 64 << 10

// MaxDepth is the deepest container nesting Check accepts.
const MaxDepth = 32

// Errors wrapped by Check.
var (
	ErrTooLarge  = errors.New("msgguard: message too large")
	ErrMalformed = errors.New("msgguard: malformed msgpack")
	ErrLength    = errors.New("msgguard: claimed length exceeds remaining bytes")
	ErrDepth     = errors.New("msgguard: nesting too deep")
	ErrTrailing  = errors.New("msgguard: trailing bytes after value")
)

// Check reports whether b holds exactly one well-formed msgpack value of at most
// maxBytes bytes (maxBytes <= 0 means DefaultMaxBytes) whose every claimed length fits
// in the bytes that remain. It never allocates.
func Check(b []byte, maxBytes int) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if len(b) > maxBytes {
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrTooLarge, len(b), maxBytes)
	}
	// pending[d] is the number of values still to read at nesting depth d.
	var pending [MaxDepth + 1]uint64
	depth := 0
	pending[0] = 1
	i := 0
	for {
		for depth > 0 && pending[depth] == 0 {
			depth--
		}
		if pending[depth] == 0 {
			break
		}
		pending[depth]--
		if i >= len(b) {
			return fmt.Errorf("%w: truncated at byte %d", ErrMalformed, i)
		}
		c := b[i]
		i++
		rem := uint64(len(b) - i)
		var skip uint64     // payload bytes to skip
		var children uint64 // values inside a container
		var lenBytes int    // size of an explicit length field
		kind := 0           // 0 scalar, 1 bytes (str/bin), 2 ext, 3 array, 4 map
		switch {
		case c <= 0x7f || c >= 0xe0:
		case c <= 0x8f:
			kind, children = 4, uint64(c&0x0f)
		case c <= 0x9f:
			kind, children = 3, uint64(c&0x0f)
		case c <= 0xbf:
			kind, skip = 1, uint64(c&0x1f)
		default:
			switch c {
			case 0xc0, 0xc2, 0xc3:
			case 0xc1:
				return fmt.Errorf("%w: reserved byte c1 at %d", ErrMalformed, i-1)
			case 0xc4, 0xd9:
				kind, lenBytes = 1, 1
			case 0xc5, 0xda:
				kind, lenBytes = 1, 2
			case 0xc6, 0xdb:
				kind, lenBytes = 1, 4
			case 0xc7:
				kind, lenBytes = 2, 1
			case 0xc8:
				kind, lenBytes = 2, 2
			case 0xc9:
				kind, lenBytes = 2, 4
			case 0xca:
				skip = 4
			case 0xcb:
				skip = 8
			case 0xcc, 0xd0:
				skip = 1
			case 0xcd, 0xd1:
				skip = 2
			case 0xce, 0xd2:
				skip = 4
			case 0xcf, 0xd3:
				skip = 8
			case 0xd4:
				skip = 2
			case 0xd5:
				skip = 3
			case 0xd6:
				skip = 5
			case 0xd7:
				skip = 9
			case 0xd8:
				skip = 17
			case 0xdc:
				kind, lenBytes = 3, 2
			case 0xdd:
				kind, lenBytes = 3, 4
			case 0xde:
				kind, lenBytes = 4, 2
			case 0xdf:
				kind, lenBytes = 4, 4
			}
		}
		if lenBytes > 0 {
			if rem < uint64(lenBytes) {
				return fmt.Errorf("%w: truncated length at byte %d", ErrMalformed, i)
			}
			var n uint64
			switch lenBytes {
			case 1:
				n = uint64(b[i])
			case 2:
				n = uint64(binary.BigEndian.Uint16(b[i:]))
			case 4:
				n = uint64(binary.BigEndian.Uint32(b[i:]))
			}
			i += lenBytes
			rem -= uint64(lenBytes)
			switch kind {
			case 1:
				skip = n
			case 2:
				skip = n + 1 // the type byte
			default:
				children = n
			}
		}
		switch kind {
		case 3, 4:
			need := children
			if kind == 4 {
				need *= 2
			}
			if need > rem {
				return fmt.Errorf("%w: container of %d values with %d bytes left", ErrLength, need, rem)
			}
			if need == 0 {
				continue
			}
			if depth == MaxDepth {
				return ErrDepth
			}
			depth++
			pending[depth] = need
		default:
			if skip > rem {
				return fmt.Errorf("%w: %d bytes claimed with %d left", ErrLength, skip, rem)
			}
			i += int(skip)
		}
	}
	if i != len(b) {
		return fmt.Errorf("%w: %d of %d bytes used", ErrTrailing, i, len(b))
	}
	return nil
}

// Unmarshal checks b with Check (cap maxBytes, <= 0 meaning DefaultMaxBytes) and only
// then decodes it into v with msgpack.Unmarshal.
func Unmarshal(b []byte, maxBytes int, v any) error {
	if err := Check(b, maxBytes); err != nil {
		return err
	}
	if err := msgpack.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}
