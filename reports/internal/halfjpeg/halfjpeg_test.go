package halfjpeg

import (
	"bytes"
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

// boxHalf shrinks img by two in each direction, each pixel the mean of the
// (up to) four it covers: what a half-size decode should look like.
func boxHalf(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, (b.Dx()+1)/2, (b.Dy()+1)/2))
	for y := 0; y < out.Rect.Dy(); y++ {
		for x := 0; x < out.Rect.Dx(); x++ {
			var r, g, bl, n uint32
			for dy := range 2 {
				for dx := range 2 {
					sx, sy := b.Min.X+2*x+dx, b.Min.Y+2*y+dy
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

// Every stream image/jpeg decodes, this decodes at half size, looking like
// the full decode shrunk; every stream it refuses, this refuses.
func TestHalfOfTheFullDecode(t *testing.T) {
	for name, data := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			full, ferr := jpeg.Decode(bytes.NewReader(data))
			got, herr := Decode(bytes.NewReader(data))
			if (ferr == nil) != (herr == nil) {
				t.Fatalf("image/jpeg: %v; halfjpeg: %v", ferr, herr)
			}
			if ferr != nil {
				return
			}
			fb := full.Bounds()
			want := image.Rect(0, 0, (fb.Dx()+1)/2, (fb.Dy()+1)/2)
			if got.Bounds() != want {
				t.Fatalf("%v decoded to %v, want %v", fb, got.Bounds(), want)
			}
			if gm, fm := got.ColorModel(), full.ColorModel(); gm != fm {
				t.Errorf("colour model %v, image/jpeg gives %v", gm, fm)
			}
			// The reference keeps the chroma planes at their full-decode
			// resolution, while a half-size decode halves them as well
			// (so does libjpeg's): where colour changes fast, as in the
			// small synthetic fixtures (150×103) and above all the RGB one
			// whose green and blue are subsampled, they differ more than
			// in a phone photo. Phone photos: ≥ 35 dB, an excellent copy;
			// the rest ≥ 20. A block transposed, planes swapped or the
			// level shift lost gives under 15.
			floor := 20.0
			if strings.HasPrefix(name, "road") {
				floor = 35
			}
			if p := psnr(got, boxHalf(full)); p < floor {
				t.Errorf("PSNR against image/jpeg's decode halved: %.1f dB, want ≥ %.0f", p, floor)
			} else {
				t.Logf("%v → %v, PSNR %.1f dB", fb.Size(), want.Size(), p)
			}
		})
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
			got, err := Decode(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatalf("%v gray=%v: %v", size, gray, err)
			}
			want := image.Rect(0, 0, (size.X+1)/2, (size.Y+1)/2)
			if got.Bounds() != want {
				t.Fatalf("%v gray=%v: decoded to %v, want %v", size, gray, got.Bounds(), want)
			}
			// Tiny images change colour fast from pixel to pixel, where
			// halving the chroma planes shows most (see above).
			if p := psnr(got, boxHalf(full)); p < 15 {
				t.Errorf("%v gray=%v: PSNR %.1f dB, want ≥ 15", size, gray, p)
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
		_, herr := Decode(bytes.NewReader(bad))
		if (ferr == nil) != (herr == nil) {
			t.Fatalf("case %d: image/jpeg: %v; halfjpeg: %v", i, ferr, herr)
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
	b.Run("half", func(b *testing.B) {
		for b.Loop() {
			if _, err := Decode(bytes.NewReader(photo)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
