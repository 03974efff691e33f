package snapshot

import "math/bits"

// The field code of wire format 2: how a delta writes one field. The field's residual
// u = zigzag(new - ref) (0: unchanged) goes in one of codeClasses classes, named by a
// unary prefix (class c: c one bits then a zero bit), followed by u minus the class's
// start in the class's width; the prefix of codeClasses one bits is the escape,
// followed by the new value itself in the field's width. Class widths grow from k, the
// field's parameter, which each packet's type table sets per field so that the code
// fits the residuals of that packet (Encoder picks it from the residuals of its
// previous send).
const codeClasses = 5

// codeSteps are the class widths above k: class c holds 2^min(k+codeSteps[c], bits) values.
var codeSteps = [codeClasses]uint8{0, 0, 1, 2, 4}

// fieldCode is the compiled code of one field for one k.
type fieldCode struct {
	bits  uint8
	k     uint8
	w     [codeClasses]uint8      // class widths
	start [codeClasses + 1]uint64 // class c holds start[c] <= u < start[c+1]
	plain bool                    // no width capped at bits: class c > 0 holds the u of bit length k+c (k+4 and up for 4)
}

func makeFieldCode(k, nbits uint) fieldCode {
	c := fieldCode{bits: uint8(nbits), k: uint8(k), plain: k+uint(codeSteps[codeClasses-1]) <= nbits}
	for i, s := range codeSteps {
		w := min(k+uint(s), nbits)
		c.w[i] = uint8(w)
		c.start[i+1] = c.start[i] + 1<<w
	}
	return c
}

// code returns the code of residual u of a field whose new value is cur, first bit
// lowest, and its length.
func (c *fieldCode) code(u, cur uint32) (uint64, uint) {
	for i := range codeClasses {
		if uint64(u) < c.start[i+1] {
			return (1<<i - 1) | (uint64(u)-c.start[i])<<(i+1), uint(i) + 1 + uint(c.w[i])
		}
	}
	return 1<<codeClasses - 1 | uint64(cur)<<codeClasses, codeClasses + uint(c.bits)
}

// residual is zigzag(cur - ref) for a field of nbits (1..32) bits: 0 when unchanged.
// The difference modulo 2^nbits, sign-extended from bit nbits-1, is zigzagged in 32 bits.
func residual(ref, cur uint32, nbits uint) uint32 {
	sh := (32 - nbits) & 31
	s := int32((cur-ref)<<sh) >> sh
	return uint32(s<<1) ^ uint32(s>>31)
}

// unresidual inverts residual: the value that ref changed into by residual u.
func unresidual(ref, u uint32, nbits uint) uint32 {
	return (ref + (u>>1 ^ -(u & 1))) & uint32(1<<nbits-1)
}

// codeHist counts a field's residuals by bit length (0 for u = 0), to choose k.
type codeHist [33]uint32

// bestK returns the k that codes the residuals counted in h most cheaply, taking
// each residual as the largest of its bit length, and the k-code's own bits. With
// codeSteps {0, 0, 1, 2, 4}, a residual of bit length b <= k takes class 0, k+1 class 1,
// k+2 class 2, k+3 class 3, k+4 class 4, longer the escape (widths capped at nbits
// are ignored: k is only a choice).
func bestK(h *codeHist, nbits uint) uint {
	top := 0
	for b := len(h) - 1; b > 0; b-- {
		if h[b] != 0 {
			top = b
			break
		}
	}
	var below uint64 // residuals of bit length <= k
	for b := 0; b <= 0; b++ {
		below += uint64(h[b])
	}
	best, bestCost := uint(0), ^uint64(0)
	for k := uint(0); k <= min(uint(top), nbits); k++ {
		if k > 0 {
			below += uint64(h[k])
		}
		cost := uint64(kCodeBits(k)) + below*uint64(1+k)
		for j, extra := range [...]uint64{2, 4, 6, 9} { // class j+1: prefix j+2, width k+step
			if b := k + 1 + uint(j); b < uint(len(h)) {
				cost += uint64(h[b]) * (uint64(k) + extra)
			}
		}
		for b := k + 5; b <= uint(top); b++ {
			cost += uint64(h[b]) * uint64(codeClasses+nbits)
		}
		if cost < bestCost {
			best, bestCost = k, cost
		}
	}
	return best
}

// kCodeBits is the length of k's entry in a type table: "0" for 0, "1" k-1:5 otherwise.
func kCodeBits(k uint) uint {
	if k == 0 {
		return 1
	}
	return 6
}

// bitLen is the bit length of u (0 for 0).
func bitLen(u uint32) int { return bits.Len32(u) }
