package points

import (
	"crypto/rand"
	"fmt"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// Pickup codes. A code is 10 characters of Crockford's base32: 50 bits from
// crypto/rand, so a station admin typing codes at the throttle's pace (10
// wrong ones per 10 minutes) would need on the order of 10^11 years to hit
// one of even a million live codes. The alphabet leaves out I, L, O and U,
// so a code read aloud or copied by hand is not misread; entry ignores case,
// spaces and dashes, and takes I and L for 1 and O for 0.
const (
	codeLen     = 10
	crockford32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

// encodeCrockford writes the first n 5-bit groups of b in Crockford base32.
func encodeCrockford(b []byte, n int) string {
	var sb strings.Builder
	var acc uint64
	bits := 0
	i := 0
	for sb.Len() < n {
		if bits < 5 {
			var next byte
			if i < len(b) {
				next = b[i]
				i++
			}
			acc = acc<<8 | uint64(next)
			bits += 8
		}
		sb.WriteByte(crockford32[(acc>>(bits-5))&31])
		bits -= 5
	}
	return sb.String()
}

// NewCode returns a fresh pickup code, 10 characters without dashes.
func NewCode() string {
	var b [7]byte // 56 bits, of which the first 50 are used
	_, _ = rand.Read(b[:])
	return encodeCrockford(b[:], codeLen)
}

// FormatCode shows a code in groups a person can read aloud: "K7M3-9QXA-2P".
func FormatCode(code string) string {
	if len(code) != codeLen {
		return code
	}
	return code[:4] + "-" + code[4:8] + "-" + code[8:]
}

// ParseCode reads a code as a person typed or a scanner read it: case,
// spaces and dashes do not matter, I and L count as 1 and O as 0. ok is
// false when it cannot be a code.
func ParseCode(s string) (code string, ok bool) {
	var sb strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r == 'I' || r == 'L':
			r = '1'
		case r == 'O':
			r = '0'
		}
		if r > 127 || !strings.ContainsRune(crockford32, r) {
			return "", false
		}
		sb.WriteRune(r)
		if sb.Len() > codeLen {
			return "", false
		}
	}
	if sb.Len() != codeLen {
		return "", false
	}
	return sb.String(), true
}

// CodeQR draws a code as a QR code, a PNG of size×size pixels, holding the
// code as FormatCode shows it: the station's scanner submits what it reads
// as if typed.
func CodeQR(code string, size int) ([]byte, error) {
	png, err := qrcode.Encode(FormatCode(code), qrcode.Medium, size)
	if err != nil {
		return nil, fmt.Errorf("draw the QR code: %w", err)
	}
	return png, nil
}
