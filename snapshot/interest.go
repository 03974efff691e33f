package snapshot

// Interest decides which entities of a World one client receives, and how urgently
// (interest management). Pass it to Encoder.EncodeWith in EncodeOptions.
//
// An entity the client stops receiving is removed on the client exactly like an
// entity gone from the world: a removal entry repeated until a packet carrying it is
// acknowledged. An entity it starts receiving (again) is sent whole. The wire format
// does not change: a client cannot tell an entity out of its interest from one that is
// gone. Encoders that share an EncodeCache may use different Interests: deltas are
// keyed by entity versions, which do not depend on who receives them.
type Interest interface {
	// Weight returns 0 if the client must not receive entity id, otherwise how fast
	// the entity's priority grows while it waits to be sent: each send that has
	// something to send for it and leaves it out adds Weight to its priority, and
	// when a send cannot carry everything (packet or byte budget) the highest
	// priorities go first. Encode without an Interest uses 1 for every entity, so
	// 1 is "normal" and, say, 8 makes an entity win a crowded send about 8 times as
	// often; every relevant entity is still sent eventually.
	//
	// known reports whether the client holds the entity or is about to (it has been
	// sent and not removed since), so that a rule can keep an entity a little longer
	// than it would admit a new one (hysteresis against flicker at an edge).
	//
	// Weight is called once per entity of the world per EncodeWith, in ascending ID
	// order, on the goroutine that encodes; q is valid only during the call.
	Weight(id EntityID, typ TypeID, q []uint32, known bool) uint32
}

// EncodeOptions are per-send settings of Encoder.EncodeWith. The zero value makes
// EncodeWith the same as Encode.
type EncodeOptions struct {
	// Interest, if set, selects the entities this client receives and weights
	// their priorities. Default nil: every entity, weight 1.
	Interest Interest
	// MaxBytes, if positive, caps the total bytes of this send's packets (a
	// bandwidth budget spent send by send), below MaxPacketBytes ×
	// MaxPacketsPerSend: the send uses MaxBytes/MaxPacketBytes full packets and one
	// smaller packet for the rest. Entities that do not fit wait with their
	// priority raised, as when the packets are full. A send always has at least one
	// packet, so a send costs at least HeaderLen+3 bytes (10) whatever MaxBytes says.
	// Default 0: no cap beyond the packets'.
	MaxBytes int
}

// packetBudget returns how many packets this send may use and the entry bits the
// last of them holds (the others hold e.payload), given a byte cap (0: none).
func (e *Encoder) packetBudget(maxBytes int) (int, uint) {
	n, size := e.cfg.MaxPacketsPerSend, e.cfg.MaxPacketBytes
	if maxBytes <= 0 || maxBytes >= n*size {
		return n, e.payload
	}
	full := maxBytes / size
	rest := maxBytes - full*size
	// A packet of rest bytes has (rest-HeaderLen)*8 bits, 17 of them for the
	// common distance, the type table's size and the end marker.
	if rest >= HeaderLen+3 {
		return full + 1, uint(rest-HeaderLen)*8 - 17
	}
	if full == 0 {
		return 1, 0 // the packet every send carries, with no entry in it
	}
	return full, e.payload
}
