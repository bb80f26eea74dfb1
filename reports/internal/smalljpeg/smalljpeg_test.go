package smalljpeg

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtures are every JPEG of testdata plus the photos the reports package
// tests with.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("testdata/*.jpeg")
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob("../../testdata/photos/*.jpg")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, p := range append(paths, more...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	if len(out) < 25 {
		t.Fatalf("found %d fixtures; the testdata is missing", len(out))
	}
	return out
}

// boxShrink shrinks img by div in each direction, each pixel the mean of
// the (up to) div² it covers: what a reduced decode should look like.
func boxShrink(img image.Image, div int) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, (b.Dx()+div-1)/div, (b.Dy()+div-1)/div))
	for y := 0; y < out.Rect.Dy(); y++ {
		for x := 0; x < out.Rect.Dx(); x++ {
			var r, g, bl, n uint32
			for dy := range div {
				for dx := range div {
					sx, sy := b.Min.X+div*x+dx, b.Min.Y+div*y+dy
					if sx >= b.Max.X || sy >= b.Max.Y {
						continue
					}
					c := color.RGBAModel.Convert(img.At(sx, sy)).(color.RGBA)
					r, g, bl, n = r+uint32(c.R), g+uint32(c.G), bl+uint32(c.B), n+1
				}
			}
			out.SetRGBA(x, y, color.RGBA{uint8((r + n/2) / n), uint8((g + n/2) / n), uint8((bl + n/2) / n), 255})
		}
	}
	return out
}

// psnr compares two images of the same size in RGB, in decibels.
func psnr(a, b image.Image) float64 {
	var sum float64
	n := 0
	bb := b.Bounds()
	for y := 0; y < bb.Dy(); y++ {
		for x := 0; x < bb.Dx(); x++ {
			ca := color.RGBAModel.Convert(a.At(a.Bounds().Min.X+x, a.Bounds().Min.Y+y)).(color.RGBA)
			cb := color.RGBAModel.Convert(b.At(bb.Min.X+x, bb.Min.Y+y)).(color.RGBA)
			for _, d := range []float64{float64(ca.R) - float64(cb.R), float64(ca.G) - float64(cb.G), float64(ca.B) - float64(cb.B)} {
				sum += d * d
				n++
			}
		}
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}

// Every stream image/jpeg decodes, this decodes at 1/2, 1/4 and 1/8 size,
// looking like the full decode shrunk; every stream it refuses, this
// refuses.
func TestReducedOfTheFullDecode(t *testing.T) {
	for name, data := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			full, ferr := jpeg.Decode(bytes.NewReader(data))
			for _, div := range []int{2, 4, 8} {
				got, herr := Decode(bytes.NewReader(data), div)
				if (ferr == nil) != (herr == nil) {
					t.Fatalf("1/%d: image/jpeg: %v; smalljpeg: %v", div, ferr, herr)
				}
				if ferr != nil {
					return
				}
				fb := full.Bounds()
				want := image.Rect(0, 0, (fb.Dx()+div-1)/div, (fb.Dy()+div-1)/div)
				if got.Bounds() != want {
					t.Fatalf("1/%d: %v decoded to %v, want %v", div, fb, got.Bounds(), want)
				}
				if gm, fm := got.ColorModel(), full.ColorModel(); gm != fm {
					t.Errorf("1/%d: colour model %v, image/jpeg gives %v", div, gm, fm)
				}
				// The reference keeps the chroma planes at their
				// full-decode resolution, while a reduced decode reduces
				// them as well (so does libjpeg's): where colour changes
				// fast, as in the small synthetic fixtures (150×103) and
				// above all the RGB one whose green and blue are
				// subsampled, they differ more than in a phone photo. And
				// the box filter of the reference lets through detail the
				// reduced IDCT drops, more so the more it reduces. Phone
				// photos: ≥ 35 dB at 1/2, 32 at 1/4, 30 at 1/8, an
				// excellent copy; the rest ≥ 20, 18, 16. A block
				// transposed, planes swapped or the level shift lost gives
				// under 15.
				floor := map[int]float64{2: 20, 4: 18, 8: 16}[div]
				if strings.HasPrefix(name, "road") {
					floor = map[int]float64{2: 35, 4: 32, 8: 30}[div]
				}
				if p := psnr(got, boxShrink(full, div)); p < floor {
					t.Errorf("PSNR against image/jpeg's decode reduced to 1/%d: %.1f dB, want ≥ %.0f", div, p, floor)
				} else {
					t.Logf("1/%d: %v → %v, PSNR %.1f dB", div, fb.Size(), want.Size(), p)
				}
			}
		})
	}
}

// Divisor picks the largest reduction that still covers the size asked.
func TestDivisor(t *testing.T) {
	for _, tt := range []struct{ w, h, minW, minH, want int }{
		{1600, 1200, 400, 300, 4},
		{1600, 1200, 401, 300, 2},
		{4000, 3000, 400, 300, 8},
		{1599, 1199, 400, 300, 4}, // rounded up: 400×300
		{700, 500, 400, 300, 0},
		{800, 600, 400, 300, 2},
	} {
		if got := Divisor(tt.w, tt.h, tt.minW, tt.minH); got != tt.want {
			t.Errorf("Divisor(%d×%d, at least %d×%d) = %d, want %d", tt.w, tt.h, tt.minW, tt.minH, got, tt.want)
		}
	}
}

// A reduction the decoder has no IDCT for is refused, not guessed.
func TestOtherReductionsRefused(t *testing.T) {
	data := fixtures(t)["road-clean.jpg"]
	for _, div := range []int{0, 1, 3, 16} {
		if _, err := Decode(bytes.NewReader(data), div); err == nil {
			t.Errorf("Decode(1/%d) answered an image", div)
		}
	}
}

// Sizes that are not a multiple of the block, in each subsampling Go's
// encoder writes (4:2:0 for colour, none for gray), keep their last
// column and row.
func TestOddSizes(t *testing.T) {
	for _, size := range []image.Point{{1, 1}, {7, 3}, {9, 17}, {333, 251}, {16, 16}} {
		for _, gray := range []bool{false, true} {
			var src image.Image
			rgba := image.NewRGBA(image.Rect(0, 0, size.X, size.Y))
			for y := range size.Y {
				for x := range size.X {
					rgba.Set(x, y, color.RGBA{uint8(x * 255 / size.X), uint8(y * 255 / size.Y), uint8((x + y) % 256), 255})
				}
			}
			src = rgba
			if gray {
				g := image.NewGray(rgba.Rect)
				for y := range size.Y {
					for x := range size.X {
						g.Set(x, y, rgba.At(x, y))
					}
				}
				src = g
			}
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 95}); err != nil {
				t.Fatal(err)
			}
			full, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			for _, div := range []int{2, 4, 8} {
				got, err := Decode(bytes.NewReader(buf.Bytes()), div)
				if err != nil {
					t.Fatalf("%v gray=%v 1/%d: %v", size, gray, div, err)
				}
				want := image.Rect(0, 0, (size.X+div-1)/div, (size.Y+div-1)/div)
				if got.Bounds() != want {
					t.Fatalf("%v gray=%v 1/%d: decoded to %v, want %v", size, gray, div, got.Bounds(), want)
				}
				// Tiny images change colour fast from pixel to pixel,
				// where reducing the chroma planes shows most (see above).
				if p := psnr(got, boxShrink(full, div)); p < 15 {
					t.Errorf("%v gray=%v 1/%d: PSNR %.1f dB, want ≥ 15", size, gray, div, p)
				}
			}
		}
	}
}

// Damage anywhere in a photo: wherever image/jpeg notices it, so does this
// decoder, which shares its parsing and Huffman decoding.
func TestDamageRefusedAlike(t *testing.T) {
	data, err := os.ReadFile("../../testdata/photos/road-clean.jpg")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	refused := 0
	for i := range 60 {
		bad := bytes.Clone(data)
		switch i % 3 {
		case 0: // flipped bytes
			for range 1 + rng.IntN(8) {
				bad[rng.IntN(len(bad))] ^= byte(1 + rng.IntN(255))
			}
		case 1: // cut short
			bad = bad[:rng.IntN(len(bad))]
		case 2: // a run of garbage
			at := rng.IntN(len(bad) - 64)
			for j := range 64 {
				bad[at+j] = byte(rng.Uint32())
			}
		}
		_, ferr := jpeg.Decode(bytes.NewReader(bad))
		_, herr := Decode(bytes.NewReader(bad), 4)
		if (ferr == nil) != (herr == nil) {
			t.Fatalf("case %d: image/jpeg: %v; smalljpeg: %v", i, ferr, herr)
		}
		if ferr != nil {
			refused++
		}
	}
	if refused < 15 {
		t.Fatalf("only %d of 60 damaged copies refused: the damage is too mild to test anything", refused)
	}
	t.Logf("%d of 60 damaged copies refused by both", refused)
}

func BenchmarkDecode(b *testing.B) {
	data, err := os.ReadFile("../../testdata/photos/road-clean.jpg")
	if err != nil {
		b.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		b.Fatal(err)
	}
	photo := buf.Bytes()
	b.Logf("%v, %d KB", img.Bounds().Size(), len(photo)>>10)
	b.Run("image-jpeg", func(b *testing.B) {
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(photo)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, div := range []int{2, 4, 8} {
		b.Run(fmt.Sprintf("1/%d", div), func(b *testing.B) {
			for b.Loop() {
				if _, err := Decode(bytes.NewReader(photo), div); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
