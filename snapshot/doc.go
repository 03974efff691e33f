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
// acknowledged (or against a linear prediction from its two newest acknowledged versions,
// when that is cheaper), or whole when there is none. The client feeds packets, in whatever order
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
// # Wire format, version 1
//
// A packet is a 7-byte header followed by a bit stream:
//
//	byte 0      version = 1
//	bytes 1-2   seq, uint16 little-endian; 1..65535, wraps, 0 is never used
//	bytes 3-6   tick, uint32 little-endian: the host tick of the state
//	bytes 7-    bit stream
//
// Bits are packed least significant first: stream bit i is bit (i mod 8) of byte i/8 of the
// stream, and a k-bit value is written low bit first. The stream is:
//
//	common:5       baseline distance shared by most deltas of the packet (0 = none)
//	commonPrev:5   prediction-source distance shared by most predicted deltas (0 = none)
//	entries        in strictly ascending entity ID order
//	op 0           end marker, then zero bits up to the byte boundary; nothing may follow
//
// Each entry starts with a 2-bit op:
//
//	op 1  delta:   idgap, base, pred, then per field: changed:1 [change]
//	op 2  whole:   idgap, type:8, then per field: value:bits
//	op 3  remove:  idgap
//
// idgap is a gap g coded as "0" (g = 0), "1 0" g:4, "1 1 0" g:12 or "1 1 1" g:32; the
// entry's ID is g for the first entry and previous ID + 1 + g after that (it must stay
// below 2^32). base is "0" (distance common) or "1" dist:5; the distance (1..31) names the
// baseline b1: the version of this entity carried by packet seq-dist, which the client
// acknowledged. Sequence arithmetic is modulo 2^16 and seq 0 is skipped but counted: the
// packet after 65535 is 1, at distance 2. The entity's type is the baseline's. pred is
// "0" (the reference is b1) or "1 0" (source distance commonPrev) or "1 1" dist:5: the
// source b0 is the entity's version in packet seq-dist, which must be strictly older than
// b1 (a larger distance; otherwise the packet is corrupt) and of the same type (otherwise
// the baseline is missing), and the reference is the linear prediction
//
//	ref = b1 + round((b1-b0) · (tick-t1) / (t1-t0))
//
// per field of at least 5 bits (narrower fields: ref = b1), where tick, t1, t0 are the
// ticks of this packet, of b1's packet and of b0's (uint32 differences; t1-t0 must be in
// 1..65536 and tick-t1 at most 65536); for angles b1-b0 is taken modulo 2^bits as a signed
// number and ref wraps, for other fields ref is clamped to [0, max]. With
// x = (b1-b0)·(tick-t1) and den = t1-t0, round(x/den) is (x + den/2) / den for x >= 0 and
// (x - den/2) / den for x < 0, in int64 arithmetic with den/2 rounded down and division
// truncating toward zero. Fields follow in the type's field order; a field is "changed"
// when it differs from ref, and its new value is:
//
//	bits = 1      nothing (a changed bool flips)
//	bits 2..4     value:bits
//	bits >= 5     0 z:4             z+1 = zigzag(delta), |delta| <= 8
//	              1 0 z:8           z+1 = zigzag(delta), |delta| <= 128
//	              1 1 0 z:12        z+1 = zigzag(delta), |delta| <= 2048
//	              1 1 1 value:bits  the new value
//
// where delta = new - ref taken modulo 2^bits as a signed bits-wide number, and
// zigzag(d) = 2d for d >= 0 and -2d-1 for d < 0; the decoder computes new = (ref + delta)
// mod 2^bits. A decoder accepts each of the four codes for every field of at least 5
// bits. The encoder writes "0 z:4" when the delta fits, "1 0 z:8" only for fields wider
// than 8 bits, "1 1 0 z:12" only for fields wider than 12, and the raw value otherwise.
// Every decoded value must be at most the field's largest quantized value.
//
// A decoder ignores (and does not acknowledge) a packet History (32) or more behind the
// newest it has received: it is stale.
//
// An ack is 7 bytes: version = 1, Latest (uint16 LE), Mask (uint32 LE); bit i of Mask
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
