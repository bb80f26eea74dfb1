package smalljpeg

import "math"

// This file replaces image/jpeg's dct.go: the decoder needs only the
// reduced inverse DCTs below, not the 8×8 one.

// block holds one 8×8 block's coefficients in natural (row-major) order
// once de-zigzagged, as in image/jpeg.
type block [blockSize]int32

const blockSize = 8 * 8

// reduction is how an 8×8 block becomes side×side pixels: a side-point
// inverse DCT of the side×side lowest-frequency coefficients.
//
// The 8×8 IDCT of T.81 (A.3.3) gives the sample at x as
// ¼ΣΣ C(u)C(v) S(v,u) cos((2x+1)uπ/16) cos((2y+1)vπ/16). Taken at the
// middle of each run of 8/side samples, x = (8/side)k + (8/side−1)/2, the
// angle is (2k+1)uπ/(2·side): with the side lowest frequencies of each
// direction, that is a side-point IDCT giving one pixel for each
// (8/side)² of the full image, the reduced IDCT of libjpeg's jidctred.c.
// The higher frequencies, finer than the reduced grid can show, are dropped
// rather than folded back in as aliasing. At side 1 it is the block's
// average, S(0,0)/8.
type reduction struct {
	side int
	// zigs lists the zig-zag positions of the coefficients the IDCT reads.
	zigs []int
	// table[u][k] is C(u)/2·cos((2k+1)uπ/(2·side)), C(0) = 1/√2, C(u>0) = 1.
	table [4][4]float32
}

// reductions by the divisor of each side: 2, 4 or 8.
var reductions = map[int]*reduction{2: newReduction(4), 4: newReduction(2), 8: newReduction(1)}

func newReduction(side int) *reduction {
	r := &reduction{side: side}
	for zig := range blockSize {
		if n := unzig[zig]; n/8 < side && n%8 < side {
			r.zigs = append(r.zigs, zig)
		}
	}
	for u := range side {
		c := 1.0
		if u == 0 {
			c = 1 / math.Sqrt2
		}
		for k := range side {
			r.table[u][k] = float32(c / 2 * math.Cos(float64((2*k+1)*u)*math.Pi/float64(2*side)))
		}
	}
	return r
}

// scaled is the length n pixels have at 1/div of their size, rounded up, so
// that a last partial column or row still has its pixel.
func scaled(n, div int) int { return (n + div - 1) / div }

// idct turns the dequantized block b into side×side samples written to dst,
// rows stride bytes apart: level-shifted by 128 and clamped to [0, 255].
func (r *reduction) idct(b *block, dst []byte, stride int) {
	switch r.side {
	case 4:
		r.idct4(b, dst, stride)
	case 2:
		t := &r.table
		s00, s01, s10, s11 := float32(b[0]), float32(b[1]), float32(b[8]), float32(b[9])
		for l := range 2 {
			// Rows then columns, as in idct4, with two points each.
			a := t[0][l]*s00 + t[1][l]*s10
			c := t[0][l]*s01 + t[1][l]*s11
			dst[l*stride] = clamp(t[0][0]*a + t[1][0]*c + 128)
			dst[l*stride+1] = clamp(t[0][1]*a + t[1][1]*c + 128)
		}
	default:
		dst[0] = clamp(float32(b[0])/8 + 128)
	}
}

// idct4 is idct for side 4, with a shortcut for flat blocks.
func (r *reduction) idct4(b *block, dst []byte, stride int) {
	t := &r.table
	if b[1]|b[2]|b[3]|b[8]|b[9]|b[10]|b[11]|b[16]|b[17]|b[18]|b[19]|b[24]|b[25]|b[26]|b[27] == 0 {
		// Only the average: a flat square, as is most of a sky or a road.
		v := clamp(float32(b[0])*t[0][0]*t[0][0] + 128)
		for y := range 4 {
			row := dst[y*stride : y*stride+4]
			row[0], row[1], row[2], row[3] = v, v, v, v
		}
		return
	}
	// Rows: tmp[v][k] = Σ_u T[u][k]·S(v,u).
	var tmp [4][4]float32
	for v := range 4 {
		s0, s1, s2, s3 := float32(b[8*v]), float32(b[8*v+1]), float32(b[8*v+2]), float32(b[8*v+3])
		for k := range 4 {
			tmp[v][k] = t[0][k]*s0 + t[1][k]*s1 + t[2][k]*s2 + t[3][k]*s3
		}
	}
	// Columns: out[l][k] = Σ_v T[v][l]·tmp[v][k].
	for l := range 4 {
		row := dst[l*stride : l*stride+4]
		t0, t1, t2, t3 := t[0][l], t[1][l], t[2][l], t[3][l]
		for k := range 4 {
			row[k] = clamp(t0*tmp[0][k] + t1*tmp[1][k] + t2*tmp[2][k] + t3*tmp[3][k] + 128)
		}
	}
}

// clamp rounds f to the nearest byte value, saturating at 0 and 255.
func clamp(f float32) byte {
	switch {
	case f <= 0:
		return 0
	case f >= 255:
		return 255
	}
	return byte(f + 0.5)
}
