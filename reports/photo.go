package reports

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"sync"

	"github.com/disintegration/imaging"
	exif "github.com/dsoprea/go-exif/v3"
	exifcommon "github.com/dsoprea/go-exif/v3/common"
	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/nuanxin/nuanxin/reports/internal/smalljpeg"
)

// Limits on one uploaded photo.
const (
	MaxPhotoBytes = 10 << 20   // 10 MB per photo
	MaxPixels     = 40_000_000 // 40 megapixels: decoded as 8-bit RGBA, at most 160 MB
	// ThumbMaxSide is the longest side of a thumbnail, in pixels. Pages
	// show thumbnails at most 160 CSS px wide (queue rows 64), so 400
	// covers screens of up to 2.5 device pixels per CSS pixel; and 400×300
	// is exactly what a quarter-size decode (smalljpeg) makes of the
	// 1600×1200 the phone page uploads, with nothing left to shrink.
	ThumbMaxSide = 400
)

// Codes of a PhotoError. Clients and tests rely on them; the wording of
// Reason may change.
const (
	PhotoTooLarge      = "too_large"
	PhotoUnsupported   = "unsupported_format"
	PhotoNotAnImage    = "not_an_image" // empty, unreadable, truncated or a polyglot
	PhotoTooManyPixels = "too_many_pixels"
)

const (
	bodyQuality  = 88 // re-encoded stored copies: no artefacts visible on photos
	thumbQuality = 80 // thumbnails are only previews
	// maxEXIFBytes is all a JPEG APP1 segment can hold; a WebP EXIF chunk
	// longer than that is ignored rather than parsed.
	maxEXIFBytes      = 64 << 10
	formatsThatWork   = "JPEG, PNG or WebP"
	reasonDamaged     = "the photo is damaged or incomplete; take it again"
	contentTypeJPEG   = "image/jpeg"
	contentTypePNG    = "image/png"
	orientationNormal = 1
	// maxSide is the most a JPEG can hold and more than any phone's
	// panorama. Without it a 40-megapixel PNG one pixel high would pass,
	// and resampling weights grow with the longest side: 3 GB for it.
	maxSide = 1<<16 - 1

	jpegSOI byte = 0xD8
	jpegEOI byte = 0xD9
)

// PhotoError says why a photo was refused, in words a rider can act on.
// Code is one of the Photo* codes and is stable; Reason is safe to show.
type PhotoError struct {
	Code   string
	Reason string
}

// Error includes the code, for logs; show clients Reason alone.
func (e *PhotoError) Error() string { return "photo refused (" + e.Code + "): " + e.Reason }

func damaged() *PhotoError { return &PhotoError{Code: PhotoNotAnImage, Reason: reasonDamaged} }

// GPS is a position read from a photo's EXIF, in decimal degrees (south and
// west negative).
type GPS struct{ Lat, Lng float64 }

// Processed is a photo ready to store: upright, without metadata, with a
// thumbnail.
type Processed struct {
	Body                    []byte // the copy to store
	ContentType             string // "image/jpeg" or "image/png", of Body
	Width, Height           int    // of Body, upright
	Thumb                   []byte // JPEG, longest side <= ThumbMaxSide
	ThumbWidth, ThumbHeight int
	GPS                     *GPS // from the original's EXIF; nil if it had none or an impossible one
}

// SubmitPhotoOptional files a report like Submit, except that it may come
// without a photo: 0 to MaxPhotos. It is for Open311 GeoReport v2, whose
// specification makes media optional; riders, through the app and the web
// pages, use Submit and attach 1 to MaxPhotos. A report filed without one
// has no Photos (see Report.HasPhotos), so the officer knows to look at the
// place itself. Errors: those of Submit.
//
// A separate entry point rather than a Submission field: the riders' routes
// fill Submissions from form input, and this keeps the exception at the one
// call site that may use it. The mark travels in ctx, under a key no other
// package can set.
func (s *Service) SubmitPhotoOptional(ctx context.Context, reporterID string, in Submission) (Report, bool, error) {
	return s.Submit(context.WithValue(ctx, photoOptionalKey{}, true), reporterID, in)
}

type photoOptionalKey struct{}

// minPhotos is how many photos a submission needs: MinPhotos, or none
// through SubmitPhotoOptional.
func minPhotos(ctx context.Context) int {
	if optional, _ := ctx.Value(photoOptionalKey{}).(bool); optional {
		return 0
	}
	return MinPhotos
}

// HasPhotos reports whether the report came with photos. Only reports filed
// through SubmitPhotoOptional (Open311) may have none.
func (r Report) HasPhotos() bool { return len(r.Photos) > 0 }

// ProcessPhoto validates and cleans one upload. The format is read from the
// bytes, never from a name or header. The stored copy carries no metadata
// (no EXIF, GPS, XMP, comments or embedded thumbnails) and is turned upright
// by the EXIF orientation; the position in the original's EXIF is returned
// in GPS.
//
// Anything wrong with the upload itself is a *PhotoError: PhotoTooLarge,
// PhotoUnsupported, PhotoNotAnImage or PhotoTooManyPixels. Any other error
// is the server's fault (an encoder failing).
//
// Memory stays bounded: the size, the pixel count and the longest side are
// checked before any pixel is decoded. A 40-megapixel JPEG that must be
// turned upright still allocates about 225 MB and takes over a second, so
// callers should limit how many run at once.
func ProcessPhoto(data []byte) (Processed, error) {
	if len(data) == 0 {
		return Processed{}, &PhotoError{Code: PhotoNotAnImage, Reason: "the upload is empty; choose a photo and send it again"}
	}
	if len(data) > MaxPhotoBytes {
		return Processed{}, &PhotoError{Code: PhotoTooLarge, Reason: "the photo is larger than the 10 MB limit; send a smaller photo or lower the camera's resolution"}
	}
	format, err := sniff(data)
	if err != nil {
		return Processed{}, err
	}
	switch format {
	case "jpeg":
		return processJPEG(data)
	case "png":
		return processPNG(data)
	default:
		return processWebP(data)
	}
}

// sniff names the format from the magic numbers. Only JPEG, PNG and WebP
// pass; the refusals name what was sent where that helps the rider.
func sniff(b []byte) (string, error) {
	unsupported := func(what string) error {
		return &PhotoError{Code: PhotoUnsupported, Reason: what + "; send a " + formatsThatWork + " photo"}
	}
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, jpegSOI, 0xFF}):
		return "jpeg", nil
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png", nil
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp", nil
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		// ISO media files: HEIC/HEIF from iPhones, AVIF, or a video.
		switch string(b[8:12]) {
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs", "mif1", "msf1":
			return "", &PhotoError{Code: PhotoUnsupported, Reason: "this photo is in HEIC, the iPhone's default format, which we cannot read; " +
				"send a " + formatsThatWork + " photo. On the iPhone choose Settings → Camera → Formats → Most Compatible, then take the photo again"}
		case "avif", "avis":
			return "", unsupported("AVIF photos are not supported")
		}
		return "", unsupported("this looks like a video, not a photo")
	case bytes.HasPrefix(b, []byte("GIF8")):
		return "", unsupported("GIF images are not supported")
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return "", unsupported("this is a PDF document, not a photo")
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "", unsupported("TIFF images are not supported")
	case bytes.HasPrefix(b, []byte("BM")):
		return "", unsupported("BMP images are not supported")
	}
	return "", unsupported("this file is not a photo we can read")
}

// checkPixels refuses images too big to decode safely. It runs on the
// header's dimensions, before any pixel memory is allocated.
func checkPixels(cfg image.Config) error {
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return damaged()
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return &PhotoError{Code: PhotoTooManyPixels, Reason: fmt.Sprintf(
			"the photo is %d×%d pixels, more than the %d-megapixel limit; send a smaller photo", cfg.Width, cfg.Height, MaxPixels/1_000_000)}
	}
	if cfg.Width > maxSide || cfg.Height > maxSide {
		return &PhotoError{Code: PhotoTooManyPixels, Reason: fmt.Sprintf(
			"the photo is %d×%d pixels; sides longer than %d pixels are not supported, send a smaller photo", cfg.Width, cfg.Height, maxSide)}
	}
	return nil
}

// jpegParts runs the checks of a JPEG that need no pixels: the header's
// dimensions, the segment walk, the EXIF.
type jpegParts struct {
	cfg         image.Config
	clean       []byte // the original's segments without metadata
	orientation int
	gps         *GPS
}

func checkJPEG(data []byte) (jpegParts, error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return jpegParts{}, damaged()
	}
	if err := checkPixels(cfg); err != nil {
		return jpegParts{}, err
	}
	// Walk the segments before decoding: Go's decoder stops at EOI and does
	// not care what follows, but a file that goes on after it (HTML, script)
	// is a polyglot, and one that never reaches it is incomplete.
	clean, tiff, err := stripJPEG(data)
	if err != nil {
		return jpegParts{}, err
	}
	orientation, gps := readEXIF(tiff)
	return jpegParts{cfg: cfg, clean: clean, orientation: orientation, gps: gps}, nil
}

// uprightJPEG makes every check of ProcessPhoto that decides whether a
// photo is taken, for the one kind of photo whose stored copy needs no
// pixels: an upright JPEG, which is what the app's page sends (the browser
// draws the photo upright and encodes it without metadata). Its stored copy
// is its own segments without metadata, returned with ok set, no Thumb and
// the dimensions from its header; the caller answers the rider, then makes
// the thumbnail with Thumbnail, which decodes the pixels and may still find
// them damaged. For anything else (a JPEG to turn upright, PNG, WebP: their
// stored copy is made from the pixels) ok is false and the caller runs
// ProcessPhoto. A refusal is the one ProcessPhoto would give.
//
// So what stays before the answer, for every photo: the type from the
// bytes, the dimensions before decoding and the 40-megapixel limit,
// truncation and polyglots (the segment walk), and the EXIF position. The
// stored copy never carries metadata, deferred or not.
func uprightJPEG(data []byte) (p Processed, ok bool, err error) {
	if len(data) == 0 || len(data) > MaxPhotoBytes {
		return Processed{}, false, nil
	}
	if format, err := sniff(data); err != nil || format != "jpeg" {
		return Processed{}, false, err
	}
	parts, err := checkJPEG(data)
	if err != nil || parts.orientation != orientationNormal {
		return Processed{}, false, err
	}
	return Processed{Body: parts.clean, ContentType: contentTypeJPEG, Width: parts.cfg.Width, Height: parts.cfg.Height, GPS: parts.gps}, true, nil
}

// Thumbnail decodes a stored JPEG that uprightJPEG let through and makes its
// thumbnail. A *PhotoError (PhotoNotAnImage) says the pixels are damaged:
// the structure was sound, the image data is not.
//
// A photo at least twice the thumbnail's size on each side is decoded at
// the smallest of 1/2, 1/4 or 1/8 of its size that still covers the
// thumbnail (smalljpeg): the same parsing and entropy decoding as
// image/jpeg, so the same damage is found, at about 55 % of the cost for a
// 1600×1200 phone photo decoded at 1/4, leaving at most twice the
// thumbnail's width and height to shrink, and nothing when the reduction is
// the thumbnail's size.
func Thumbnail(body []byte) (thumb []byte, width, height int, err error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		return nil, 0, 0, damaged()
	}
	tw, th := thumbSize(cfg.Width, cfg.Height)
	decode := jpeg.Decode
	if div := smalljpeg.Divisor(cfg.Width, cfg.Height, tw, th); div > 0 {
		decode = func(r io.Reader) (image.Image, error) { return smalljpeg.Decode(r, div) }
	}
	img, err := decode(bytes.NewReader(body))
	if err != nil {
		return nil, 0, 0, damaged()
	}
	if thumb, err = thumbnailOf(img, tw, th); err != nil {
		return nil, 0, 0, err
	}
	return thumb, tw, th, nil
}

func processJPEG(data []byte) (Processed, error) {
	parts, err := checkJPEG(data)
	if err != nil {
		return Processed{}, err
	}
	return processJPEGParts(parts)
}

func processJPEGParts(parts jpegParts) (Processed, error) {
	clean, orientation, gps := parts.clean, parts.orientation, parts.gps
	// Decoding the stripped copy rather than the original checks exactly the
	// bytes that will be stored.
	img, err := jpeg.Decode(bytes.NewReader(clean))
	if err != nil {
		return Processed{}, damaged()
	}
	p := Processed{GPS: gps, ContentType: contentTypeJPEG}
	if orientation == orientationNormal {
		// Already upright: store the original's own entropy-coded data.
		// Re-encoding would lose quality a second time and add a
		// full-size encode; stripping segments is only a copy.
		p.Body = clean
	} else {
		img = orient(img, orientation)
		if p.Body, err = encodeJPEG(img, bodyQuality); err != nil {
			return Processed{}, err
		}
	}
	return finish(p, img)
}

func processPNG(data []byte) (Processed, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return Processed{}, damaged()
	}
	if err := checkPixels(cfg); err != nil {
		return Processed{}, err
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return Processed{}, damaged()
	}
	// Re-encoding writes only the pixels: tEXt, iTXt, zTXt, eXIf, iCCP and
	// anything appended after IEND are gone.
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Processed{}, fmt.Errorf("reports: encode png: %w", err)
	}
	return finish(Processed{Body: buf.Bytes(), ContentType: contentTypePNG}, img)
}

func processWebP(data []byte) (Processed, error) {
	if webpAnimated(data) {
		return Processed{}, &PhotoError{Code: PhotoUnsupported, Reason: "animated images are not supported; send a still " + formatsThatWork + " photo"}
	}
	cfg, err := webp.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return Processed{}, damaged()
	}
	if err := checkPixels(cfg); err != nil {
		return Processed{}, err
	}
	img, err := webp.Decode(bytes.NewReader(data))
	if err != nil {
		return Processed{}, damaged()
	}
	orientation, gps := readEXIF(webpEXIF(data))
	img = orient(img, orientation)
	// Go has no WebP encoder (golang.org/x/image/webp only decodes), so the
	// stored copy is a JPEG, which every browser shows.
	body, err := encodeJPEG(img, bodyQuality)
	if err != nil {
		return Processed{}, err
	}
	return finish(Processed{Body: body, ContentType: contentTypeJPEG, GPS: gps}, img)
}

// finish fills in the dimensions and the thumbnail from the upright image.
func finish(p Processed, upright image.Image) (Processed, error) {
	b := upright.Bounds()
	p.Width, p.Height = b.Dx(), b.Dy()
	tw, th := thumbSize(p.Width, p.Height)
	var err error
	if p.Thumb, err = thumbnailOf(upright, tw, th); err != nil {
		return Processed{}, err
	}
	p.ThumbWidth, p.ThumbHeight = tw, th
	return p, nil
}

// thumbnailOf shrinks img to tw×th, unless it has that size already, and
// encodes it.
func thumbnailOf(img image.Image, tw, th int) ([]byte, error) {
	if b := img.Bounds(); tw != b.Dx() || th != b.Dy() {
		// A thumbnail is a preview, and making it was the largest cost of a
		// submission after decoding: imaging's filters read every source
		// pixel (about 29 ms for 1600×1200 here), while ApproxBiLinear reads
		// only around each target pixel (about 2 ms) and looks the same at
		// 400 px for photos of streets.
		if ycc, ok := img.(*image.YCbCr); ok {
			// Scaling from YCbCr converts the four samples around each
			// thumbnail pixel on its own: converting every pixel once first,
			// in the standard library's fast path, took a fifth of the CPU
			// profile's scaling share off.
			rgba := image.NewRGBA(b)
			draw.Draw(rgba, b, ycc, b.Min, draw.Src)
			img = rgba
		}
		dst := image.NewRGBA(image.Rect(0, 0, tw, th))
		draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
		img = dst
	}
	return encodeJPEG(img, thumbQuality)
}

// thumbSize fits w×h into ThumbMaxSide, keeping the aspect ratio and never
// enlarging; no side drops below one pixel.
func thumbSize(w, h int) (int, int) {
	longest := max(w, h)
	if longest <= ThumbMaxSide {
		return w, h
	}
	scale := float64(ThumbMaxSide) / float64(longest)
	return max(1, int(math.Round(float64(w)*scale))), max(1, int(math.Round(float64(h)*scale)))
}

// encodeJPEG encodes img without any metadata: Go's encoder writes none.
func encodeJPEG(img image.Image, quality int) ([]byte, error) {
	img = opaqueForJPEG(img)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("reports: encode jpeg: %w", err)
	}
	return buf.Bytes(), nil
}

// opaqueForJPEG prepares img for a format without alpha. Transparent pixels
// would turn black; on white they look as the rider saw them. An opaque
// NRGBA (what imaging returns) has the same bytes as an RGBA, and the JPEG
// encoder has a fast path for RGBA only.
func opaqueForJPEG(img image.Image) image.Image {
	if o, ok := img.(interface{ Opaque() bool }); ok && !o.Opaque() {
		b := img.Bounds()
		dst := image.NewRGBA(b)
		draw.Draw(dst, b, image.NewUniform(color.White), image.Point{}, draw.Src)
		draw.Draw(dst, b, img, b.Min, draw.Over)
		return dst
	}
	if n, ok := img.(*image.NRGBA); ok {
		return &image.RGBA{Pix: n.Pix, Stride: n.Stride, Rect: n.Rect}
	}
	return img
}

// orient turns img upright according to an EXIF Orientation value (1–8,
// anything else is treated as 1).
//
// imaging rather than golang.org/x/image/draw: its eight exact pixel
// transforms map one to one onto the EXIF orientations (x/image/draw would
// need an affine matrix per case), and its resampler runs on all cores. It
// is pure Go and depends only on golang.org/x/image.
func orient(img image.Image, orientation int) image.Image {
	switch orientation {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img) // imaging rotates counter-clockwise: 270 is a quarter turn clockwise
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img)
	}
	return img
}

// stripJPEG walks a JPEG's segments and rebuilds the file from those needed
// to decode it: SOI, DQT, SOF, DHT, DAC, DRI, each SOS with its
// entropy-coded data, and EOI. APP0 JFIF is kept without its thumbnail and
// APP14 Adobe is kept because it says how the colours are encoded; every
// other APPn (EXIF, XMP, ICC, MPF, maker data) and every COM is dropped.
// It also returns the TIFF payload of the first APP1 Exif segment, or nil.
//
// A file that never reaches EOI, or that goes on after it with anything but
// padding or what phones legitimately append (see acceptableTrailer), is
// refused as not an image. The stored copy always ends at EOI.
func stripJPEG(data []byte) (clean, tiff []byte, err error) {
	n := len(data)
	out := make([]byte, 0, n)
	out = append(out, 0xFF, jpegSOI)
	i := 2
	for {
		// Bytes before a marker that are not 0xFF are a format error, but
		// Go's decoder and libjpeg skip them; they are dropped here too.
		for i < n && data[i] != 0xFF {
			i++
		}
		for i < n && data[i] == 0xFF { // fill bytes
			i++
		}
		if i >= n {
			return nil, nil, damaged()
		}
		m := data[i]
		i++
		switch {
		case m == jpegEOI:
			if !acceptableTrailer(data[i:]) {
				return nil, nil, damaged()
			}
			return append(out, 0xFF, jpegEOI), tiff, nil
		case m == 0x00, m == 0x01, m >= 0xD0 && m <= 0xD7:
			// A stuffed zero, TEM or a restart marker outside a scan: no
			// length, nothing to decode; Go's decoder ignores them too.
			continue
		case m == jpegSOI:
			return nil, nil, damaged()
		}
		if i+2 > n {
			return nil, nil, damaged()
		}
		length := int(binary.BigEndian.Uint16(data[i:]))
		if length < 2 || i+length > n {
			return nil, nil, damaged()
		}
		segment := data[i-2 : i+length] // marker, length, payload
		payload := data[i+2 : i+length]
		i += length
		switch {
		case m == 0xDB, m == 0xC4, m == 0xCC, m == 0xDD, m >= 0xC0 && m <= 0xCF && m != 0xC8:
			// DQT, DHT, DAC, DRI and the SOFn (0xC8 is reserved, not a SOF).
			out = append(out, segment...)
		case m == 0xDA: // SOS: the header, then entropy-coded data up to the next marker.
			out = append(out, segment...)
			end, ok := scanEnd(data, i)
			if !ok {
				return nil, nil, damaged()
			}
			out = append(out, data[i:end]...)
			i = end
		case m == 0xE0 && len(payload) >= 14 && string(payload[:5]) == "JFIF\x00":
			// Version, units and density; the thumbnail size is set to 0×0
			// and its pixels are not copied.
			out = append(out, 0xFF, 0xE0, 0x00, 16)
			out = append(out, payload[:12]...)
			out = append(out, 0, 0)
		case m == 0xE1 && tiff == nil && bytes.HasPrefix(payload, []byte("Exif\x00\x00")):
			tiff = payload[6:]
		case m == 0xEE && len(payload) >= 12 && string(payload[:5]) == "Adobe":
			// "Adobe", version, two flag words and the colour transform.
			out = append(out, 0xFF, 0xEE, 0x00, 14)
			out = append(out, payload[:12]...)
		}
	}
}

// acceptableTrailer reports whether the bytes after a JPEG's EOI are ones a
// phone camera writes: nothing but padding, a second JPEG (the gain map of
// an Ultra HDR photo, the other images of an MPF file) or an MP4 video (a
// Motion Photo). Anything else, such as HTML after the image, is a polyglot.
func acceptableTrailer(rest []byte) bool {
	switch {
	case bytes.HasPrefix(rest, []byte{0xFF, jpegSOI, 0xFF}):
		return true
	case len(rest) >= 8 && string(rest[4:8]) == "ftyp":
		return true
	}
	for _, c := range rest {
		if c != 0x00 && c != 0xFF {
			return false
		}
	}
	return true
}

// scanEnd returns where the entropy-coded data that starts at i ends: at the
// 0xFF of the next marker other than a restart. ok is false if the file
// ends first.
func scanEnd(data []byte, i int) (end int, ok bool) {
	for {
		j := bytes.IndexByte(data[i:], 0xFF)
		if j < 0 || i+j+1 >= len(data) {
			return 0, false
		}
		i += j
		switch c := data[i+1]; {
		case c == 0x00, c >= 0xD0 && c <= 0xD7: // stuffed byte, restart marker
			i += 2
		case c == 0xFF: // fill byte before a marker
			i++
		default:
			return i, true
		}
	}
}

// webpAnimated reports whether a WebP's VP8X header says it is animated;
// golang.org/x/image/webp cannot decode those.
func webpAnimated(data []byte) bool {
	const animationFlag = 0x02
	return len(data) >= 21 && string(data[12:16]) == "VP8X" && data[20]&animationFlag != 0
}

// webpEXIF returns the TIFF payload of a WebP's EXIF chunk, or nil.
func webpEXIF(data []byte) []byte {
	for i := 12; i+8 <= len(data); {
		size := int(binary.LittleEndian.Uint32(data[i+4:]))
		start := i + 8
		if size < 0 || size > len(data)-start {
			return nil
		}
		if string(data[i:i+4]) == "EXIF" {
			// The WebP spec says raw TIFF; some writers keep JPEG's prefix.
			return bytes.TrimPrefix(data[start:start+size], []byte("Exif\x00\x00"))
		}
		i = start + size + size&1 // chunks are padded to an even length
	}
	return nil
}

// readEXIF returns the Orientation (1 when absent or invalid) and a
// plausible GPS position (nil otherwise) from a TIFF-structured EXIF block.
// EXIF is optional: a broken block is ignored, never a reason to refuse.
//
// The parser is github.com/dsoprea/go-exif/v3, which PhotoPrism and others
// use on untrusted files. github.com/rwcarlsen/goexif was tried first and
// rejected: on a 44-byte block whose IFDs point at each other it loops
// forever, and a tag count that overflows uint32 makes it allocate 16 GB.
// exifTables are the parser's tables of IFDs and tags, built once: a new
// tag index parses the whole standard tag list (YAML) on first use, about
// 3.5 ms, which every photo with EXIF paid. The mapping is only read by
// the parser, and the tag index locks itself.
var exifTables = sync.OnceValues(func() (*exifcommon.IfdMapping, *exif.TagIndex) {
	mapping, err := exifcommon.NewIfdMappingWithStandard()
	if err != nil {
		return nil, nil
	}
	return mapping, exif.NewTagIndex()
})

func readEXIF(tiff []byte) (orientation int, gps *GPS) {
	orientation = orientationNormal
	if len(tiff) == 0 || len(tiff) > maxEXIFBytes {
		return orientation, nil
	}
	defer func() {
		// The parser reports errors by panicking and recovering inside;
		// should one escape, the photo is still good without its EXIF.
		if recover() != nil {
			orientation, gps = orientationNormal, nil
		}
	}()
	mapping, tags := exifTables()
	if mapping == nil {
		return orientation, nil
	}
	_, index, err := exif.Collect(mapping, tags, tiff)
	if err != nil || index.RootIfd == nil {
		return orientation, nil
	}
	root := index.RootIfd
	if tags, err := root.FindTagWithId(0x0112); err == nil && len(tags) > 0 {
		if v, err := tags[0].Value(); err == nil {
			if s, ok := v.([]uint16); ok && len(s) > 0 && s[0] >= 1 && s[0] <= 8 {
				orientation = int(s[0])
			}
		}
	}
	gpsIfd, err := root.ChildWithIfdPath(exifcommon.IfdGpsInfoStandardIfdIdentity)
	if err != nil {
		return orientation, nil
	}
	info, err := gpsIfd.GpsInfo()
	if err != nil {
		return orientation, nil
	}
	return orientation, plausibleGPS(info.Latitude.Decimal(), info.Longitude.Decimal())
}

// plausibleGPS keeps a position only if it is on the globe and not (0, 0),
// which is what a phone without a fix often writes.
func plausibleGPS(lat, lng float64) *GPS {
	if !(lat >= -90 && lat <= 90 && lng >= -180 && lng <= 180) || (lat == 0 && lng == 0) {
		return nil
	}
	return &GPS{Lat: lat, Lng: lng}
}
