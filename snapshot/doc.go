// Package snapshot is Volley's state codec: schemas from struct tags, quantization, bit
// packing, per-client delta encoding against acknowledged baselines, and packing into
// MTU-sized packets that each decode on their own. It is pure: no I/O, no clocks.
//
// # Model
//
// A [Registry] compiles entity types from `snap` struct tags (see [Registry.Register]).
// A [World] holds entities (ID, type, quantized field values). The host keeps one
// [Encoder] per client; each [Encoder.Encode] turns the world into one or more packets,
// encoding each entity against the newest version of it that this client has
// acknowledged (or against a linear prediction from it and an older acknowledged
// version, when that is cheaper), or whole when there is none. Residuals are coded
// with per-field codes fitted to the recent sends, and an entity whose delta has the
// packet's common baseline and its type's usual prediction costs one bit of header. The client feeds packets, in whatever order
// they arrive, to a [Decoder], reads [Decoder.World] and sends back [Decoder.Ack]
// (wire form: [AppendAck]); the host hands it to [Encoder.Ack], which turns acknowledged
// versions into baselines. A lost packet only means the next one is encoded against an
// older baseline. An entity whose acknowledged version equals its current value is not
// sent at all. When a send does not fit (MaxPacketBytes × MaxPacketsPerSend), a
// priority accumulator picks the entities that waited longest, so every entity is
// eventually sent. Removals are repeated until a packet carrying them is acknowledged.
//
// Every change to an entity in a World gets a new version number (setting the same
// values again keeps it), so an encoder skips an entity unchanged since its acknowledged
// version in O(1). Encoders that share an [EncodeCache] (a host's clients, encoded one
// after the other) compute each entity's delta from a given baseline version once per
// send instead of once per client; the output is the same byte for byte.
//
// # Quantization
//
//	int    q = v - min, clamped to [0, max-min];            bits = bitlen(max-min)
//	float  q = round((v-min)/prec), clamped to [0, steps];  steps = round((max-min)/prec), bits = bitlen(steps)
//	angle  q = round(v/2π · 2^bits) mod 2^bits;             dequantized into [-π, π)
//	bool   q = 0 or 1;                                      bits = 1
//
// # Wire format, version 2
//
// A packet is a 7-byte header followed by a bit stream:
//
//	byte 0      version = 2
//	bytes 1-2   seq, uint16 little-endian; 1..65535, wraps, 0 is never used
//	bytes 3-6   tick, uint32 little-endian: the host tick of the state
//	bytes 7-    bit stream
//
// Bits are packed least significant first: stream bit i is bit (i mod 8) of byte i/8 of the
// stream, and a k-bit value is written low bit first. A prefix code is written first bit
// first. The stream is:
//
//	common:5       baseline distance of the common entries (0 = none)
//	ntypes:8       entries of the type table, then each, in strictly ascending type:
//	  type:8       a registered type
//	  pd:5         prediction source distance of its common entries (0 = not predicted);
//	               when not 0, common must not be 0 and pd must exceed it
//	  k per field  in field order: "0" (k = 0) or "1" k-1:5 (k = 1..32, at most the
//	               field's bits)
//	entries        in strictly ascending entity ID order
//	end            "0 0 0 0", then zero bits up to the byte boundary; nothing may follow
//
// Each entry starts with a prefix-coded op, then the ID gap:
//
//	"1"        common delta:    idgap, then the fields
//	"0 1"      delta:           idgap, base, pred, then the fields
//	"0 0 1"    whole:           idgap, t:tb, then per field value:bits
//	"0 0 0 1"  removal:         idgap
//
// idgap is a gap g coded as "0" (g = 0), "1 0" g:4, "1 1 0" g:12 or "1 1 1" g:32; the
// entry's ID is g for the first entry and previous ID + 1 + g after that (it must stay
// below 2^32). A whole entry's type is entry t of the type table, t in tb =
// bitlen(ntypes-1) bits (0 bits for a table of one; a packet without a table has no
// whole entries). A delta's baseline b1 is the version of this entity carried by packet
// seq-dist, which the client acknowledged: dist is common for a common delta, and for a
// delta, base is "0" (dist = common) or "1" dist:5; dist must not be 0. Sequence
// arithmetic is modulo 2^16 and seq 0 is skipped but counted: the packet after 65535 is 1,
// at distance 2. The entity's type is the baseline's, and must be in the type table. The
// reference is b1, or, when the entry is predicted, a linear prediction from b1 and b0,
// the entity's version in packet seq-pd: pd is the type table's for a common delta, and
// for a delta, pred is "0" (not predicted) or "1" pd:5. pd must exceed dist (b0 strictly
// older than b1; otherwise the packet is corrupt) and b0 must have the same type
// (otherwise the baseline is missing). The prediction is
//
//	ref = b1 + round((b1-b0) · (tick-t1) / (t1-t0))
//
// per field of at least 5 bits (narrower fields: ref = b1), where tick, t1, t0 are the
// ticks of this packet, of b1's packet and of b0's (uint32 differences; t1-t0 must be in
// 1..65536 and tick-t1 at most 65536); for angles b1-b0 is taken modulo 2^bits as a signed
// number and ref wraps, for other fields ref is clamped to [0, max]. With
// x = (b1-b0)·(tick-t1) and den = t1-t0, round(x/den) is (x + den/2) / den for x >= 0 and
// (x - den/2) / den for x < 0, in int64 arithmetic with den/2 rounded down and division
// truncating toward zero.
//
// Each field of a delta, in the type's field order, is coded with its k from the type
// table. Its residual is u = zigzag(new - ref), the difference taken modulo 2^bits as a
// signed bits-wide number, zigzag(d) = 2d for d >= 0 and -2d-1 for d < 0; u = 0 means
// unchanged. Five classes of widths w0..w4 = min(k+s, bits) for s = 0, 0, 1, 2, 4 hold,
// in turn, the next 2^w values of u: class c is c one bits and a zero bit, then u minus
// the class's first value in w_c bits. "1 1 1 1 1" (the escape) is followed by the new
// value itself in bits. For k = 0 and a wide field: "0" u = 0, "1 0" u = 1, "1 1 0" x:1
// u = 2+x, "1 1 1 0" x:2 u = 4+x, "1 1 1 1 0" x:4 u = 8+x, "1 1 1 1 1" value:bits. The
// decoder computes new = (ref + d) mod 2^bits from u (u may name any d: an encoder writes
// u below 2^bits); every decoded value must be at most the field's largest quantized
// value.
//
// The encoder picks k per field from the residuals of its previous sends and the
// prediction distance of each type's common entries from samples of what each distance
// would cost: encoder choices, not decoding rules.
//
// A decoder ignores (and does not acknowledge) a packet History (32) or more behind the
// newest it has received: it is stale.
//
// An ack is 7 bytes: version = 2, Latest (uint16 LE), Mask (uint32 LE); bit i of Mask
// acknowledges packet Latest-1-i. Only packets the decoder accepted are acknowledged.
//
// # Schema descriptor
//
// [Registry.Schema] describes the registered types in a language-neutral, canonical JSON
// form ([Schema]); its hash is the fingerprint hosts announce, and clients in other
// languages (the TypeScript client in js/) build their decoders from it. The whole
// protocol, of which this format is one part, is docs/protocol.md.
//
// # Bad input
//
// Decoders check lengths before reading, reject packets over [MaxPacketBytesLimit], IDs out
// of order, unknown types, baselines they do not hold, out-of-range values, bad padding and
// trailing bytes, and never allocate in proportion to a count the input claims. On error a
// packet changes nothing. [Encoder.Ack] rejects acks for packets never sent.
package snapshot
