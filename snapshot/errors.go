package snapshot

import "errors"

// Sentinel errors. Functions wrap them with %w and add detail (field name, entity ID, offset).
var (
	// ErrSchema reports a struct tag or Go type that cannot be compiled into a field.
	ErrSchema = errors.New("snapshot: bad schema")
	// ErrUnknownType reports a type ID that is not registered.
	ErrUnknownType = errors.New("snapshot: unknown entity type")
	// ErrWrongType reports a Go value whose type is not the registered struct type.
	ErrWrongType = errors.New("snapshot: wrong Go type")
	// ErrValueRange reports a quantized value outside its field's range.
	ErrValueRange = errors.New("snapshot: quantized value out of range")
	// ErrFieldCount reports a quantized slice whose length is not the type's field count.
	ErrFieldCount = errors.New("snapshot: wrong number of fields")
	// ErrTruncated reports input that ends before a complete packet or ack.
	ErrTruncated = errors.New("snapshot: truncated input")
	// ErrOversized reports input larger than MaxPacketBytesLimit.
	ErrOversized = errors.New("snapshot: oversized input")
	// ErrVersion reports a packet or ack whose version byte this package does not speak.
	ErrVersion = errors.New("snapshot: unsupported wire version")
	// ErrCorrupt reports input that is well framed but makes no sense (IDs out of order,
	// bad baseline distance, non-zero padding, trailing bytes...).
	ErrCorrupt = errors.New("snapshot: corrupt packet")
	// ErrMissingBaseline reports a delta against an entity version the decoder does not hold.
	ErrMissingBaseline = errors.New("snapshot: missing baseline")
	// ErrBadAck reports an acknowledgement of a packet that was never sent (or is in the future).
	ErrBadAck = errors.New("snapshot: forged or impossible ack")
	// ErrEntityTooLarge reports an entity type whose whole encoding cannot fit in one packet.
	ErrEntityTooLarge = errors.New("snapshot: entity does not fit in a packet")
)
