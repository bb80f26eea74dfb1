package reports

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// FuzzProcessPhoto feeds ProcessPhoto arbitrary uploads. Whatever comes in,
// it must not panic; what it accepts must decode as what it claims, within
// the limits; what it refuses must be refused with a known code.
//
// The seeds are tiny so that `go test` runs them in milliseconds.
func FuzzProcessPhoto(f *testing.F) {
	small := image.NewNRGBA(image.Rect(0, 0, 8, 6))
	for y := range 6 {
		for x := range 8 {
			small.SetNRGBA(x, y, color.NRGBA{R: uint8(x * 30), G: uint8(y * 40), B: 90, A: uint8(255 - x*y)})
		}
	}
	jpg := mustEncodeJPEG(f, small, 75)
	pngData := mustEncodePNG(f, small)
	gray := mustEncodeJPEG(f, image.NewGray(image.Rect(0, 0, 3, 17)), 50)
	seeds := [][]byte{
		jpg,
		gray,
		pngData,
		withEXIF(jpg, tiffOrientation(6)),
		withEXIF(jpg, tiffOrientation(3)),
		mustBase64(f, webpLossless1x1),
		mustBase64(f, webpAlpha1x1),
		mustBase64(f, webpAnimated1x1),
		// Crafted files whose headers claim any size for a few bytes: the
		// fuzzer mutates the sizes around the pixel limit.
		greyJPEG(64, 48, false),
		greyJPEG(65535, 65535, true),
		losslessWebP(f, 64, 48),
		losslessWebP(f, 8000, 8000),
		// Progressive scans and restart markers, a few KB each.
		mustFixture(f, "go/video-001.q50.410.progressive.jpeg"),
		mustFixture(f, "go/video-001.restart2.jpeg"),
		// Broken prefixes and impostors.
		jpg[:len(jpg)/2],
		jpg[:len(jpg)-2],
		append(append([]byte{}, jpg...), "<html>"...),
		pngData[:len(pngData)/2],
		[]byte{0xFF, 0xD8, 0xFF},
		[]byte("\x89PNG\r\n\x1a\n"),
		[]byte("RIFF\x00\x00\x00\x00WEBPVP8X"),
		[]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
		[]byte("%PDF-1.4"),
		{},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	known := map[string]bool{PhotoTooLarge: true, PhotoUnsupported: true, PhotoNotAnImage: true, PhotoTooManyPixels: true}

	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ProcessPhoto(data)
		if err != nil {
			var pe *PhotoError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *PhotoError", err, err)
			}
			if !known[pe.Code] || pe.Reason == "" {
				t.Fatalf("PhotoError %+v: unknown code or no reason", *pe)
			}
			return
		}
		var body image.Image
		switch p.ContentType {
		case "image/jpeg":
			body, err = jpeg.Decode(bytes.NewReader(p.Body))
		case "image/png":
			body, err = png.Decode(bytes.NewReader(p.Body))
		default:
			t.Fatalf("ContentType %q", p.ContentType)
		}
		if err != nil {
			t.Fatalf("stored %s does not decode: %v", p.ContentType, err)
		}
		if got := body.Bounds().Size(); got != image.Pt(p.Width, p.Height) {
			t.Fatalf("body is %v, Processed says %dx%d", got, p.Width, p.Height)
		}
		if int64(p.Width)*int64(p.Height) > MaxPixels {
			t.Fatalf("accepted %dx%d, over MaxPixels", p.Width, p.Height)
		}
		thumb, err := jpeg.Decode(bytes.NewReader(p.Thumb))
		if err != nil {
			t.Fatalf("thumb does not decode as JPEG: %v", err)
		}
		tb := thumb.Bounds()
		if tb.Dx() != p.ThumbWidth || tb.Dy() != p.ThumbHeight || max(tb.Dx(), tb.Dy()) > ThumbMaxSide {
			t.Fatalf("thumb is %v, Processed says %dx%d, limit %d", tb.Size(), p.ThumbWidth, p.ThumbHeight, ThumbMaxSide)
		}
	})
}
