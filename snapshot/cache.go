package snapshot

// EncodeCache shares delta computations between encoders (EncoderConfig.Cache). A
// host's clients mostly acknowledge the same sends, so most of them hold the same
// baseline version of an entity: the residuals from that version (or from a
// prediction from it and an older one) to the current one are then computed once per
// send instead of once per client. Entries are keyed by World versions, which name
// values exactly, so a hit is always right; with them it keeps their codes under the
// field codes of the encoder that stored them, which another encoder with the same codes
// copies. The cache is a fixed-size table (about 1.2 MiB) where a newer entry replaces
// an older one. Types of more than cacheFields fields are not cached.
//
// Encoders sharing a cache must use the same Registry and must not Encode
// concurrently. The zero value is not usable: call NewEncodeCache.
type EncodeCache struct {
	slots []cacheSlot
	mask  uint64
}

const cacheSlots = 1 << 13

// deltaKey names a delta: from baseline version base (predicted from version prev over
// num/den ticks, when prev is not 0) to version cur.
type deltaKey struct {
	cur, base, prev uint64
	num, den        uint32
}

// cacheFields is the most fields of a type whose residuals the cache holds.
const cacheFields = 16

type cacheSlot struct {
	key deltaKey
	u   [cacheFields]uint32
	// The codes of u under the field codes named sig (0: none), as the last encoder
	// that stored or coded them used: encoders whose codes agree (a host's clients
	// usually do) copy the bits instead of coding the fields again.
	sig  uint64
	n    uint32 // their length; the bits are kept when n <= deltaWords*64
	bits [deltaWords]uint64
}

// NewEncodeCache returns an empty cache.
func NewEncodeCache() *EncodeCache {
	return &EncodeCache{slots: make([]cacheSlot, cacheSlots), mask: cacheSlots - 1}
}

func (k *deltaKey) hash() uint64 {
	h := k.cur*0x9e3779b97f4a7c15 ^ k.base*0xc2b2ae3d27d4eb4f ^ k.prev*0x165667b19e3779f9 ^
		(uint64(k.num)<<32|uint64(k.den))*0x27d4eb2f165667c5
	return h ^ h>>31
}

// lookup returns the slot holding k, or nil. Version 0 never names values, so an
// empty slot (cur 0) never matches.
func (c *EncodeCache) lookup(k *deltaKey) *cacheSlot {
	if c == nil {
		return nil
	}
	s := &c.slots[k.hash()&c.mask]
	if s.key == *k {
		return s
	}
	return nil
}

func (c *EncodeCache) store(k *deltaKey, u []uint32, sig uint64, fw *fieldWriter) {
	s := &c.slots[k.hash()&c.mask]
	s.key = *k
	copy(s.u[:], u)
	s.sig, s.n, s.bits = sig, uint32(fw.n), fw.w
}
