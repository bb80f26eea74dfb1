package reports

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
	"golang.org/x/image/webp"
)

// Tiny WebP files (the ones browsers' feature tests use): Go cannot write
// WebP, so these are spelled out.
const (
	webpLossless1x1 = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="
	webpAlpha1x1    = "UklGRkoAAABXRUJQVlA4WAoAAAAQAAAAAAAAAAAAQUxQSAwAAAARBxAR/Q9ERP8DAABWUDggGAAAABQBAJ0BKgEAAQAAAP4AAA3AAP7mtQAAAA=="
	webpAnimated1x1 = "UklGRlIAAABXRUJQVlA4WAoAAAASAAAAAAAAAAAAQU5JTQYAAAD/////AABBTk1GJgAAAAAAAAAAAAAAAAAAAGQAAABWUDhMDQAAAC8AAAAQBxAREYiI/gcA"
)

func mustFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "photos", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustBase64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustProcess(tb testing.TB, data []byte) Processed {
	tb.Helper()
	p, err := ProcessPhoto(data)
	if err != nil {
		tb.Fatalf("ProcessPhoto: %v", err)
	}
	return p
}

// mustDecode decodes b as the given content type, and only as that one.
func mustDecode(tb testing.TB, b []byte, contentType string) image.Image {
	tb.Helper()
	var (
		img image.Image
		err error
	)
	switch contentType {
	case "image/jpeg":
		img, err = jpeg.Decode(bytes.NewReader(b))
	case "image/png":
		img, err = png.Decode(bytes.NewReader(b))
	default:
		tb.Fatalf("content type %q", contentType)
	}
	if err != nil {
		tb.Fatalf("decode %s: %v", contentType, err)
	}
	return img
}

func mustEncodeJPEG(tb testing.TB, img image.Image, quality int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func mustEncodePNG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// tiffOrientation is an EXIF block holding only an Orientation tag.
func tiffOrientation(o uint16) []byte {
	b := []byte("II*\x00\x08\x00\x00\x00") // little-endian TIFF, IFD0 at offset 8
	b = append(b, 1, 0)                    // one entry
	b = append(b, 0x12, 0x01, 3, 0, 1, 0, 0, 0, byte(o), 0, 0, 0)
	return append(b, 0, 0, 0, 0) // no next IFD
}

// withEXIF inserts an APP1 Exif segment holding tiff right after the SOI.
func withEXIF(jpg, tiff []byte) []byte {
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(2+6+len(tiff)))
	seg = append(seg, "Exif\x00\x00"...)
	seg = append(seg, tiff...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// app1EXIF returns the TIFF block of a JPEG's first APP1 Exif segment.
func app1EXIF(tb testing.TB, jpg []byte) []byte {
	tb.Helper()
	for i := 2; i+4 <= len(jpg) && jpg[i] == 0xFF; {
		n := int(binary.BigEndian.Uint16(jpg[i+2:]))
		if p := jpg[i+4 : i+2+n]; jpg[i+1] == 0xE1 && bytes.HasPrefix(p, []byte("Exif\x00\x00")) {
			return p[6:]
		}
		i += 2 + n
	}
	tb.Fatal("no APP1 Exif segment")
	return nil
}

// webpExtended wraps a simple WebP (one "VP8 " or "VP8L" chunk) in an
// extended one (VP8X) whose canvas is w×h, with an EXIF chunk when tiff is
// not nil.
func webpExtended(tb testing.TB, simple, tiff []byte, w, h int) []byte {
	tb.Helper()
	if fourcc := string(simple[12:16]); fourcc != "VP8 " && fourcc != "VP8L" {
		tb.Fatalf("want a simple WebP, got chunk %q", fourcc)
	}
	chunk := func(fourcc string, payload []byte) []byte {
		c := append([]byte(fourcc), 0, 0, 0, 0)
		binary.LittleEndian.PutUint32(c[4:], uint32(len(payload)))
		c = append(c, payload...)
		if len(payload)%2 == 1 {
			c = append(c, 0)
		}
		return c
	}
	vp8x := make([]byte, 10)
	if tiff != nil {
		vp8x[0] = 0x08 // EXIF present
	}
	vp8x[4], vp8x[5], vp8x[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	vp8x[7], vp8x[8], vp8x[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	body := []byte("WEBP")
	body = append(body, chunk("VP8X", vp8x)...)
	body = append(body, simple[12:]...) // the image chunk, padded as it was
	if tiff != nil {
		body = append(body, chunk("EXIF", tiff)...)
	}
	out := []byte("RIFF\x00\x00\x00\x00")
	binary.LittleEndian.PutUint32(out[4:], uint32(len(body)))
	return append(out, body...)
}

// losslessWebP is webpLossless1x1 with the size in its VP8L header set to
// w×h (each at most 16384). Every Huffman code of that bitstream has a
// single symbol, which takes no bits, so the same few bytes decode to w×h
// transparent pixels: 8000×8000 is 34 bytes that decode to 256 MB.
func losslessWebP(tb testing.TB, w, h int) []byte {
	tb.Helper()
	b := mustBase64(tb, webpLossless1x1)
	if string(b[12:16]) != "VP8L" || b[20] != 0x2F {
		tb.Fatalf("the lossless seed is not a simple VP8L file")
	}
	// After the 0x2F signature: 14 bits width-1, 14 bits height-1, then the
	// alpha and version bits, little-endian.
	hdr := binary.LittleEndian.Uint32(b[21:25])
	hdr = hdr&^(1<<28-1) | uint32(w-1) | uint32(h-1)<<14
	binary.LittleEndian.PutUint32(b[21:25], hdr)
	return b
}

// greyJPEG spells out a baseline greyscale JPEG of w×h mid-grey pixels (w
// and h multiples of 8). Its two Huffman tables hold one code each, "0": an
// 8×8 block is two bits (DC difference 0, end of block), so 8000×8000
// pixels take 250 KB, the size of the 750 KB JPEG the attack sent with
// the standard tables. With header only, the scan is a single byte: the
// header claims a size the data never fills, which costs nothing to send.
func greyJPEG(w, h int, headerOnly bool) []byte {
	seg := func(marker byte, payload ...byte) []byte {
		return append([]byte{0xFF, marker, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
	}
	oneCode := func(class byte) []byte { // table 0 of the class: one code of length 1, for symbol 0
		t := make([]byte, 1+16+1)
		t[0], t[1] = class<<4, 1
		return t
	}
	b := []byte{0xFF, 0xD8}
	b = append(b, seg(0xDB, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...)...)...)       // DQT: table 0, all ones
	b = append(b, seg(0xC0, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 1, 1, 0x11, 0)...) // SOF0: 8 bits, one component
	b = append(b, seg(0xC4, oneCode(0)...)...)                                              // DHT: DC table 0
	b = append(b, seg(0xC4, oneCode(1)...)...)                                              // DHT: AC table 0
	b = append(b, seg(0xDA, 1, 1, 0x00, 0, 63, 0)...)                                       // SOS
	blocks := (w / 8) * (h / 8)
	if headerOnly {
		blocks = 4
	}
	scan := make([]byte, (blocks*2+7)/8)
	if rest := blocks % 4; rest != 0 {
		scan[len(scan)-1] = 0xFF >> (2 * rest) // padding bits are ones
	}
	b = append(b, scan...)
	return append(b, 0xFF, 0xD9)
}

// quadrants is an upright test picture: red, green / blue, yellow.
func quadrants(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{A: 255}
			switch {
			case x < w/2 && y < h/2:
				c.R = 255
			case y < h/2:
				c.G = 255
			case x < w/2:
				c.B = 255
			default:
				c.R, c.G = 255, 255
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func near(a, b color.Color, tolerance float64) bool {
	r1, g1, b1, _ := a.RGBA()
	r2, g2, b2, _ := b.RGBA()
	d := math.Abs(float64(r1)-float64(r2)) + math.Abs(float64(g1)-float64(g2)) + math.Abs(float64(b1)-float64(b2))
	return d/257 <= tolerance
}

// meanColour is the average colour of r in img, per channel in 0..255.
func meanColour(img image.Image, r image.Rectangle) [3]float64 {
	var sum [3]float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			sum[0] += float64(cr >> 8)
			sum[1] += float64(cg >> 8)
			sum[2] += float64(cb >> 8)
		}
	}
	n := float64(r.Dx() * r.Dy())
	return [3]float64{sum[0] / n, sum[1] / n, sum[2] / n}
}

func colourDistance(a, b [3]float64) float64 {
	return math.Abs(a[0]-b[0]) + math.Abs(a[1]-b[1]) + math.Abs(a[2]-b[2])
}

// cellMeans are the average colours of a 4×4 grid over img: a picture
// mirrored or turned the wrong way differs in some cell (the pothole is on
// the left, the cone on the right, the sky on top).
func cellMeans(img image.Image) [16][3]float64 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	var cells [16][3]float64
	for i := range cells {
		x, y := i%4, i/4
		cells[i] = meanColour(img, image.Rect(x*w/4, y*h/4, (x+1)*w/4, (y+1)*h/4).Add(b.Min))
	}
	return cells
}

// cellDistance is the largest difference between matching cells.
func cellDistance(a, b [16][3]float64) float64 {
	var d float64
	for i := range a {
		d = max(d, colourDistance(a[i], b[i]))
	}
	return d
}

func checkProcessed(t *testing.T, p Processed) {
	t.Helper()
	body := mustDecode(t, p.Body, p.ContentType)
	if got, want := body.Bounds().Size(), image.Pt(p.Width, p.Height); got != want {
		t.Errorf("body decodes to %v, Processed says %v", got, want)
	}
	thumb := mustDecode(t, p.Thumb, "image/jpeg")
	if got, want := thumb.Bounds().Size(), image.Pt(p.ThumbWidth, p.ThumbHeight); got != want {
		t.Errorf("thumb decodes to %v, Processed says %v", got, want)
	}
	if max(p.ThumbWidth, p.ThumbHeight) > ThumbMaxSide {
		t.Errorf("thumb is %dx%d, longer than %d", p.ThumbWidth, p.ThumbHeight, ThumbMaxSide)
	}
}

func TestProcessPhotoAccepts(t *testing.T) {
	tests := []struct {
		file        string
		contentType string
		w, h        int
		tw, th      int
		gps         bool
	}{
		{"road-clean.jpg", "image/jpeg", 1600, 1200, 400, 300, false},
		{"road-gps.jpg", "image/jpeg", 1600, 1200, 400, 300, true},
		{"road-gps-orientation6.jpg", "image/jpeg", 1600, 1200, 400, 300, true},
		{"road.webp", "image/jpeg", 1600, 1200, 400, 300, false},
		{"road.png", "image/png", 800, 600, 400, 300, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p := mustProcess(t, mustFixture(t, tt.file))
			checkProcessed(t, p)
			if p.ContentType != tt.contentType {
				t.Errorf("ContentType = %q, want %q", p.ContentType, tt.contentType)
			}
			if p.Width != tt.w || p.Height != tt.h {
				t.Errorf("got %dx%d, want %dx%d", p.Width, p.Height, tt.w, tt.h)
			}
			if p.ThumbWidth != tt.tw || p.ThumbHeight != tt.th {
				t.Errorf("thumb %dx%d, want %dx%d", p.ThumbWidth, p.ThumbHeight, tt.tw, tt.th)
			}
			if got := p.GPS != nil; got != tt.gps {
				t.Errorf("GPS = %+v, want present %v", p.GPS, tt.gps)
			}
		})
	}
}

// An upright JPEG is stored without re-encoding: the same pixels, no bigger.
func TestProcessPhotoCleanJPEGNotReencoded(t *testing.T) {
	for _, file := range []string{"road-clean.jpg", "road-gps.jpg"} {
		t.Run(file, func(t *testing.T) {
			orig := mustFixture(t, file)
			p := mustProcess(t, orig)
			if len(p.Body) > len(orig) {
				t.Errorf("stored %d bytes, more than the original's %d", len(p.Body), len(orig))
			}
			want := mustDecode(t, orig, "image/jpeg").(*image.YCbCr)
			got := mustDecode(t, p.Body, "image/jpeg").(*image.YCbCr)
			if got.Rect != want.Rect || got.SubsampleRatio != want.SubsampleRatio ||
				!bytes.Equal(got.Y, want.Y) || !bytes.Equal(got.Cb, want.Cb) || !bytes.Equal(got.Cr, want.Cr) {
				t.Error("stored pixels differ from the original's")
			}
		})
	}
}

// The segment walk keeps what every kind of JPEG needs to decode the same:
// progressive scans, restart markers, CMYK and RGB (told apart by APP14
// Adobe), grayscale, unusual subsampling. The files are Go's own test
// images (testdata/photos/go, BSD licence).
func TestProcessPhotoKeepsJPEGVariants(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "photos", "go", "*.jpeg"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test JPEGs: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			orig := mustFixture(t, filepath.Join("go", name))
			p := mustProcess(t, orig)
			checkProcessed(t, p)
			if len(p.Body) > len(orig) {
				t.Errorf("stored %d bytes, more than the original's %d", len(p.Body), len(orig))
			}
			want := mustDecode(t, orig, "image/jpeg")
			if got := mustDecode(t, p.Body, "image/jpeg"); !reflect.DeepEqual(got, want) {
				t.Errorf("stored copy decodes to a different %T than the original's %T", got, want)
			}
		})
	}
}

func TestProcessPhotoGPS(t *testing.T) {
	for _, file := range []string{"road-gps.jpg", "road-gps-orientation6.jpg"} {
		t.Run(file, func(t *testing.T) {
			p := mustProcess(t, mustFixture(t, file))
			if p.GPS == nil {
				t.Fatal("GPS = nil, want 28.1941 N 112.9823 E")
			}
			if math.Abs(p.GPS.Lat-28.1941) > 1e-4 || math.Abs(p.GPS.Lng-112.9823) > 1e-4 {
				t.Errorf("GPS = %+v, want {28.1941 112.9823}", *p.GPS)
			}
		})
	}
}

// jpegSegments lists the markers of a JPEG up to its first SOS, walking the
// segment lengths (an independent check of what stripJPEG kept).
func jpegSegments(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var markers []byte
	for i := 2; ; {
		if i+4 > len(b) || b[i] != 0xFF {
			tb.Fatalf("no marker at %d", i)
		}
		m := b[i+1]
		markers = append(markers, m)
		if m == 0xDA {
			return markers
		}
		i += 2 + int(binary.BigEndian.Uint16(b[i+2:]))
	}
}

func TestProcessPhotoStripsMetadata(t *testing.T) {
	for _, file := range []string{"road-gps.jpg", "road-gps-orientation6.jpg"} {
		t.Run(file, func(t *testing.T) {
			orig := mustFixture(t, file)
			if !bytes.Contains(orig, []byte("Rider 13800138000")) {
				t.Fatal("fixture lacks the XMP this test looks for")
			}
			p := mustProcess(t, orig)
			for _, s := range []string{"Exif", "GPS", "http://ns.adobe.com/xap", "x:xmpmeta", "Rider 13800138000"} {
				if bytes.Contains(p.Body, []byte(s)) {
					t.Errorf("stored copy contains %q", s)
				}
				if bytes.Contains(p.Thumb, []byte(s)) {
					t.Errorf("thumbnail contains %q", s)
				}
			}
			if bytes.Contains(p.Body, []byte{0xFF, 0xFE}) {
				t.Error("stored copy contains a COM marker (FF FE)")
			}
			if bytes.Contains(p.Body[2:], []byte{0xFF, 0xD8, 0xFF}) {
				t.Error("stored copy contains a second SOI: an embedded thumbnail")
			}
			for _, m := range jpegSegments(t, p.Body) {
				if m == 0xFE || (m >= 0xE1 && m <= 0xEF && m != 0xEE) {
					t.Errorf("stored copy keeps segment FF %02X", m)
				}
			}
		})
	}
}

// The sideways fixture comes out like the upright one: same size, and the
// same colours in each part of the picture.
func TestProcessPhotoUpright(t *testing.T) {
	p := mustProcess(t, mustFixture(t, "road-gps-orientation6.jpg"))
	if p.Width != 1600 || p.Height != 1200 || p.ThumbWidth != 400 || p.ThumbHeight != 300 {
		t.Fatalf("got %dx%d thumb %dx%d, want 1600x1200 thumb 400x300", p.Width, p.Height, p.ThumbWidth, p.ThumbHeight)
	}
	upright := mustDecode(t, mustFixture(t, "road-clean.jpg"), "image/jpeg")
	want := cellMeans(upright)
	const tolerance = 10 // per cell, sum over R, G, B in 0..255
	for name, wrong := range map[string]image.Image{"mirrored": imaging.FlipH(upright), "upside down": imaging.Rotate180(upright)} {
		if d := cellDistance(cellMeans(wrong), want); d < 3*tolerance {
			t.Fatalf("the fixture %s differs from it by only %.0f: this test cannot tell", name, d)
		}
	}
	for name, img := range map[string]image.Image{
		"body":  mustDecode(t, p.Body, p.ContentType),
		"thumb": mustDecode(t, p.Thumb, "image/jpeg"),
	} {
		if d := cellDistance(cellMeans(img), want); d > tolerance {
			t.Errorf("%s differs from the upright fixture by %.0f in some part, want <= %d", name, d, tolerance)
		}
	}
}

// Every EXIF orientation is undone: a picture stored transformed comes out
// as it was drawn.
func TestProcessPhotoOrientations(t *testing.T) {
	upright := quadrants(64, 32)
	// stored[o] is how a camera lays out upright pixels for orientation o.
	stored := map[int]func(image.Image) *image.NRGBA{
		1: imaging.Clone, 2: imaging.FlipH, 3: imaging.Rotate180, 4: imaging.FlipV,
		5: imaging.Transpose, 6: imaging.Rotate90, 7: imaging.Transverse, 8: imaging.Rotate270,
	}
	for o := 1; o <= 8; o++ {
		t.Run(string(rune('0'+o)), func(t *testing.T) {
			jpg := withEXIF(mustEncodeJPEG(t, stored[o](upright), 95), tiffOrientation(uint16(o)))
			p := mustProcess(t, jpg)
			checkProcessed(t, p)
			if p.Width != 64 || p.Height != 32 {
				t.Fatalf("got %dx%d, want 64x32", p.Width, p.Height)
			}
			got := mustDecode(t, p.Body, p.ContentType)
			for _, pt := range []image.Point{{16, 8}, {48, 8}, {16, 24}, {48, 24}} {
				if !near(got.At(pt.X, pt.Y), upright.At(pt.X, pt.Y), 60) {
					t.Errorf("pixel %v = %v, want about %v", pt, got.At(pt.X, pt.Y), upright.At(pt.X, pt.Y))
				}
			}
			if o == 1 && !bytes.Equal(p.Body[:4], []byte{0xFF, 0xD8, 0xFF, 0xDB}) {
				t.Errorf("orientation 1 kept a segment before DQT: % x", p.Body[:4])
			}
		})
	}
}

func TestProcessPhotoWebPEXIF(t *testing.T) {
	simple := mustFixture(t, "road.webp")
	t.Run("gps", func(t *testing.T) {
		p := mustProcess(t, webpExtended(t, simple, app1EXIF(t, mustFixture(t, "road-gps.jpg")), 1600, 1200))
		if p.GPS == nil || math.Abs(p.GPS.Lat-28.1941) > 1e-4 || math.Abs(p.GPS.Lng-112.9823) > 1e-4 {
			t.Errorf("GPS = %+v, want {28.1941 112.9823}", p.GPS)
		}
		if bytes.Contains(p.Body, []byte("Exif")) {
			t.Error("stored copy contains Exif")
		}
	})
	t.Run("orientation 6", func(t *testing.T) {
		p := mustProcess(t, webpExtended(t, simple, tiffOrientation(6), 1600, 1200))
		if p.Width != 1200 || p.Height != 1600 || p.ThumbWidth != 300 || p.ThumbHeight != 400 {
			t.Errorf("got %dx%d thumb %dx%d, want 1200x1600 thumb 300x400", p.Width, p.Height, p.ThumbWidth, p.ThumbHeight)
		}
	})
}

func TestProcessPhotoSmallImages(t *testing.T) {
	tests := []struct {
		name        string
		data        []byte
		contentType string
	}{
		{"webp lossless", mustBase64(t, webpLossless1x1), "image/jpeg"},
		{"webp with alpha", mustBase64(t, webpAlpha1x1), "image/jpeg"},
		{"transparent png", mustEncodePNG(t, image.NewNRGBA(image.Rect(0, 0, 3, 2))), "image/png"},
		{"jpeg with zero padding after EOI", append(mustEncodeJPEG(t, quadrants(8, 8), 90), 0, 0, 0xFF), "image/jpeg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustProcess(t, tt.data)
			checkProcessed(t, p)
			if p.ContentType != tt.contentType {
				t.Errorf("ContentType = %q, want %q", p.ContentType, tt.contentType)
			}
			if p.ThumbWidth != p.Width || p.ThumbHeight != p.Height {
				t.Errorf("thumb %dx%d of a %dx%d image: small images are not enlarged", p.ThumbWidth, p.ThumbHeight, p.Width, p.Height)
			}
		})
	}
	t.Run("transparent becomes white in JPEG", func(t *testing.T) {
		p := mustProcess(t, mustEncodePNG(t, image.NewNRGBA(image.Rect(0, 0, 16, 16))))
		if c := mustDecode(t, p.Thumb, "image/jpeg").At(8, 8); !near(c, color.White, 10) {
			t.Errorf("thumb pixel = %v, want white", c)
		}
	})
}

func TestProcessPhotoRefuses(t *testing.T) {
	clean := mustFixture(t, "road-clean.jpg")
	tests := []struct {
		name     string
		data     []byte
		code     string
		mentions []string
	}{
		{"heic", mustFixture(t, "road.heic"), PhotoUnsupported, []string{"JPEG", "PNG", "WebP", "HEIC", "iPhone", "Settings → Camera → Formats → Most Compatible"}},
		{"pdf named .jpg", mustFixture(t, "not-an-image.jpg"), PhotoUnsupported, []string{"JPEG", "PNG", "WebP", "PDF"}},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), PhotoUnsupported, []string{"JPEG, PNG or WebP"}},
		{"html", []byte("<html><script>alert(1)</script></html>"), PhotoUnsupported, []string{"JPEG, PNG or WebP"}},
		{"animated webp", mustBase64(t, webpAnimated1x1), PhotoUnsupported, []string{"JPEG, PNG or WebP"}},
		{"bomb", mustFixture(t, "bomb-20000x20000.png"), PhotoTooManyPixels, []string{"20000×20000", "40-megapixel"}},
		{"one pixel high, 100000 wide", mustEncodePNG(t, image.NewGray(image.Rect(0, 0, 100_000, 1))), PhotoTooManyPixels, []string{"100000×1"}},
		{"truncated", mustFixture(t, "truncated.jpg"), PhotoNotAnImage, []string{"damaged or incomplete"}},
		{"polyglot", mustFixture(t, "polyglot.jpg"), PhotoNotAnImage, []string{"damaged or incomplete"}},
		{"html after EOI", append(append([]byte{}, clean...), "<html><script>alert(1)</script></html>"...), PhotoNotAnImage, []string{"damaged"}},
		{"jpeg without EOI", clean[:len(clean)-2], PhotoNotAnImage, []string{"damaged"}},
		{"png cut short", mustFixture(t, "road.png")[:100_000], PhotoNotAnImage, []string{"damaged"}},
		{"webp cut short", mustFixture(t, "road.webp")[:100_000], PhotoNotAnImage, []string{"damaged"}},
		{"jpeg magic only", []byte{0xFF, 0xD8, 0xFF}, PhotoNotAnImage, []string{"damaged"}},
		{"11 MB", append(append([]byte{}, clean...), make([]byte, 11<<20-len(clean))...), PhotoTooLarge, []string{"10 MB"}},
		{"empty", nil, PhotoNotAnImage, []string{"empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ProcessPhoto(tt.data)
			var pe *PhotoError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *PhotoError %s", err, tt.code)
			}
			if pe.Code != tt.code {
				t.Errorf("Code = %q, want %q (reason %q)", pe.Code, tt.code, pe.Reason)
			}
			for _, s := range tt.mentions {
				if !strings.Contains(pe.Reason, s) {
					t.Errorf("Reason %q does not mention %q", pe.Reason, s)
				}
			}
		})
	}
}

// The crafted files below are real images: at a size within the limits
// the pipeline accepts them. So when the larger ones are refused, it is the
// pixel limit that refuses them, not a defect of the construction.
func TestPixelLimitCraftedFilesAreImages(t *testing.T) {
	for name, data := range map[string][]byte{
		"grey JPEG":              greyJPEG(64, 48, false),
		"lossless WebP":          losslessWebP(t, 64, 48),
		"extended lossless WebP": webpExtended(t, losslessWebP(t, 64, 48), nil, 64, 48),
	} {
		t.Run(name, func(t *testing.T) {
			p := mustProcess(t, data)
			checkProcessed(t, p)
			if p.Width != 64 || p.Height != 48 {
				t.Errorf("got %dx%d, want 64x48", p.Width, p.Height)
			}
		})
	}
	// A bigger grey JPEG, decoded in full by Go's own decoder: the scan
	// data really covers every block.
	img, err := jpeg.Decode(bytes.NewReader(greyJPEG(800, 640, false)))
	if err != nil {
		t.Fatalf("800x640 grey JPEG: %v", err)
	}
	if got := img.Bounds().Size(); got != image.Pt(800, 640) {
		t.Fatalf("800x640 grey JPEG decodes to %v", got)
	}
	if c := img.At(799, 639); !near(c, color.Gray{Y: 128}, 6) {
		t.Errorf("last pixel %v, want mid-grey", c)
	}
}

// Every format's path checks the header's size before decoding: an image
// over the 40-megapixel limit is refused with too_many_pixels, and refusing
// it allocates next to nothing. Were the check missing on one path, its
// cases here would be decoded (64 MB for the grey JPEG, 256 MB for the
// WebP, gigabytes for the 65535×65535 header) and accepted or refused as
// damaged instead.
func TestPixelLimitBeforeDecoding(t *testing.T) {
	tests := []struct {
		name     string
		data     []byte
		mentions string
	}{
		{"png 20000x20000", mustFixture(t, "bomb-20000x20000.png"), "20000×20000"},
		{"jpeg 8000x8000", greyJPEG(8000, 8000, false), "8000×8000"},
		{"jpeg header 65535x65535", greyJPEG(65535, 65535, true), "65535×65535"},
		{"jpeg header 8000x5008", greyJPEG(8000, 5008, true), "8000×5008"}, // 40.06 megapixels: just over
		{"webp lossless 8000x8000", losslessWebP(t, 8000, 8000), "8000×8000"},
		{"webp lossless 16384x16384", losslessWebP(t, 16384, 16384), "16384×16384"},
		{"webp extended 8000x8000", webpExtended(t, losslessWebP(t, 8000, 8000), nil, 8000, 8000), "8000×8000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.data) > MaxPhotoBytes {
				t.Fatalf("the file is %d bytes, over the size limit: it would be refused for that", len(tt.data))
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := ProcessPhoto(tt.data)
			runtime.ReadMemStats(&after)
			var pe *PhotoError
			if !errors.As(err, &pe) || pe.Code != PhotoTooManyPixels {
				t.Fatalf("err = %v, want a PhotoError %s", err, PhotoTooManyPixels)
			}
			for _, s := range []string{tt.mentions, "40-megapixel"} {
				if !strings.Contains(pe.Reason, s) {
					t.Errorf("Reason %q does not mention %q", pe.Reason, s)
				}
			}
			// Decoding the smallest of these would take 64 MB.
			if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
				t.Errorf("allocated %d bytes refusing it, want < 4 MB: it was decoded", got)
			}
		})
	}
}

// EXIF is best effort: a broken block never refuses the photo.
func TestProcessPhotoBrokenEXIF(t *testing.T) {
	cyclic := []byte("II*\x00\x08\x00\x00\x00" +
		"\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00\x00\x00\x1a\x00\x00\x00" + // IFD at 8, next at 26
		"\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00\x00\x00\x08\x00\x00\x00") // IFD at 26, next at 8
	hugeCount := []byte("II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x80\x01\x00\x00\x00\x00\x00\x00\x00")
	for name, tiff := range map[string][]byte{
		"cyclic IFDs":    cyclic,
		"huge count":     hugeCount,
		"not tiff":       []byte("hello"),
		"header only":    []byte("MM\x00*"),
		"orientation 99": tiffOrientation(99),
	} {
		t.Run(name, func(t *testing.T) {
			p := mustProcess(t, withEXIF(mustEncodeJPEG(t, quadrants(16, 8), 90), tiff))
			if p.GPS != nil {
				t.Errorf("GPS = %+v, want nil", *p.GPS)
			}
		})
	}
}

func TestPhotoPlausibleGPS(t *testing.T) {
	tests := []struct {
		lat, lng float64
		ok       bool
	}{
		{28.1941, 112.9823, true},
		{-33.86, -151.2, true},
		{90, 180, true},
		{0, 0, false},
		{90.1, 0, false},
		{0, -180.5, false},
		{math.NaN(), 10, false},
		{10, math.Inf(1), false},
	}
	for _, tt := range tests {
		if got := plausibleGPS(tt.lat, tt.lng) != nil; got != tt.ok {
			t.Errorf("plausibleGPS(%v, %v) kept = %v, want %v", tt.lat, tt.lng, got, tt.ok)
		}
	}
}

func TestPhotoThumbSize(t *testing.T) {
	tests := []struct{ w, h, tw, th int }{
		{1600, 1200, 400, 300},
		{1200, 1600, 300, 400},
		{800, 600, 400, 300},
		{400, 100, 400, 100},
		{480, 100, 400, 83},
		{10, 10, 10, 10},
		{65535, 1, 400, 1},
		{1, 9000, 1, 400},
	}
	for _, tt := range tests {
		if tw, th := thumbSize(tt.w, tt.h); tw != tt.tw || th != tt.th {
			t.Errorf("thumbSize(%d, %d) = %d, %d, want %d, %d", tt.w, tt.h, tw, th, tt.tw, tt.th)
		}
	}
}

func BenchmarkProcessPhoto(b *testing.B) {
	data := mustFixture(b, "road-clean.jpg")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ProcessPhoto(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPhotoWebPSeedsDecode keeps the WebP seeds honest: they must be real WebP files.
func TestPhotoWebPSeedsDecode(t *testing.T) {
	for _, s := range []string{webpLossless1x1, webpAlpha1x1} {
		if _, err := webp.Decode(bytes.NewReader(mustBase64(t, s))); err != nil {
			t.Errorf("seed does not decode: %v", err)
		}
	}
}

// Phones append a gain-map JPEG (Ultra HDR) or a video (Motion Photo) after
// the main image: those photos are accepted, and the stored copy ends at the
// main image's EOI.
func TestPhotoTrailersPhonesWrite(t *testing.T) {
	clean := mustFixture(t, "road-clean.jpg")
	for name, trailer := range map[string][]byte{
		"ultra hdr gain map": append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, 64)...),
		"motion photo video": append([]byte{0, 0, 0, 24, 'f', 't', 'y', 'p', 'm', 'p', '4', '2'}, make([]byte, 64)...),
	} {
		t.Run(name, func(t *testing.T) {
			p, err := ProcessPhoto(append(append([]byte{}, clean...), trailer...))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !bytes.HasSuffix(p.Body, []byte{0xFF, 0xD9}) {
				t.Error("stored copy goes on past the main image's EOI")
			}
		})
	}
}
