package halfjpeg

import "math"

// This file replaces image/jpeg's dct.go: the decoder needs only the
// reduced inverse DCT below, not the 8×8 one.

// block holds one 8×8 block's coefficients in natural (row-major) order
// once de-zigzagged, as in image/jpeg.
type block [blockSize]int32

const blockSize = 8 * 8

// half is the side of the pixel square one 8×8 block becomes.
const half = 4

// halfOf is the length n pixels have at half size, rounded up, so that an
// odd last column or row still has its pixel.
func halfOf(n int) int { return (n + 1) / 2 }

// lowZigs lists the zig-zag positions of the coefficients the 4×4 IDCT
// reads: rows 0–3 and columns 0–3 of the block.
var lowZigs = func() []int {
	var z []int
	for zig := range blockSize {
		if n := unzig[zig]; n/8 < half && n%8 < half {
			z = append(z, zig)
		}
	}
	return z
}()

// idctTable[u][k] is C(u)/2·cos((2k+1)uπ/8), C(0) = 1/√2, C(u>0) = 1.
//
// The 8×8 IDCT of T.81 (A.3.3) gives the sample at x as
// ¼ΣΣ C(u)C(v) S(v,u) cos((2x+1)uπ/16) cos((2y+1)vπ/16). Taken at the
// middle of each pair of samples, x = 2k+½, the angle is (2k+1)uπ/8: with
// the four lowest frequencies of each direction, that is a 4-point IDCT
// giving one pixel for each 2×2 of the full image, the reduced IDCT of
// libjpeg's jidctred.c. The higher frequencies, finer than the half-size
// grid can show, are dropped rather than folded back in as aliasing.
var idctTable = func() (t [half][half]float32) {
	for u := range half {
		c := 1.0
		if u == 0 {
			c = 1 / math.Sqrt2
		}
		for k := range half {
			t[u][k] = float32(c / 2 * math.Cos(float64((2*k+1)*u)*math.Pi/(2*half)))
		}
	}
	return t
}()

// idct4 turns the dequantized block b into 4×4 samples written to dst,
// rows stride bytes apart: level-shifted by 128 and clamped to [0, 255].
func idct4(b *block, dst []byte, stride int) {
	if b[1]|b[2]|b[3]|b[8]|b[9]|b[10]|b[11]|b[16]|b[17]|b[18]|b[19]|b[24]|b[25]|b[26]|b[27] == 0 {
		// Only the average: a flat square, as is most of a sky or a road.
		v := clamp(float32(b[0])*idctTable[0][0]*idctTable[0][0] + 128)
		for y := range half {
			row := dst[y*stride : y*stride+half]
			row[0], row[1], row[2], row[3] = v, v, v, v
		}
		return
	}
	// Rows: tmp[v][k] = Σ_u T[u][k]·S(v,u).
	var tmp [half][half]float32
	for v := range half {
		s0, s1, s2, s3 := float32(b[8*v]), float32(b[8*v+1]), float32(b[8*v+2]), float32(b[8*v+3])
		for k := range half {
			tmp[v][k] = idctTable[0][k]*s0 + idctTable[1][k]*s1 + idctTable[2][k]*s2 + idctTable[3][k]*s3
		}
	}
	// Columns: out[l][k] = Σ_v T[v][l]·tmp[v][k].
	for l := range half {
		row := dst[l*stride : l*stride+half]
		t0, t1, t2, t3 := idctTable[0][l], idctTable[1][l], idctTable[2][l], idctTable[3][l]
		for k := range half {
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
