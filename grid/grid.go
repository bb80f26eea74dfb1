// Package grid holds the city's grid map: cells, each the area one grid
// officer is responsible for, how they are imported from and exported to
// GeoJSON, and an index that tells which cell contains a point.
//
// Coordinates are WGS-84 degrees in GeoJSON order: [longitude, latitude].
// The package does no I/O; storing cells and serving them is the caller's job.
package grid

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/paulmach/orb"
)

// Limits on a cell's properties, counted in characters (runes), not bytes.
const (
	maxCodeLen     = 64
	maxNameLen     = 100
	maxDistrictLen = 100
)

// allowedCode describes the code alphabet in error messages.
const allowedCode = "1-64 characters from A-Z a-z 0-9 _ . -"

// Cell is one area of the grid map.
type Cell struct {
	// Code identifies the cell, e.g. "CS-0001": 1..64 characters from
	// [A-Za-z0-9_.-], unique within a grid map.
	Code string
	// Name is what people call the cell: 1..100 characters, trimmed.
	Name string
	// District is the administrative district, optional, at most 100 characters.
	District string
	// Geometry is the area. A GeoJSON Polygon is stored as a one-polygon
	// MultiPolygon. Rings are closed (first position equals last).
	Geometry orb.MultiPolygon
}

// Bound returns the bounding box of the cell's geometry.
func (c Cell) Bound() orb.Bound {
	return c.Geometry.Bound()
}

// FeatureError says which feature of an import is wrong and why, in words a
// person can use to fix their file.
type FeatureError struct {
	// Index is the 0-based position in the document's "features" array, or
	// -1 when the problem concerns the whole document.
	Index int
	// Code is the feature's code property when it could be read, else "".
	Code string
	// Reason explains the problem.
	Reason string
}

// Error returns e.g. `feature 3 (code "CS-0004"): ring 0 is not closed: …`,
// or just the reason for a problem with the whole document.
func (e FeatureError) Error() string {
	switch {
	case e.Index < 0:
		return e.Reason
	case e.Code != "":
		return fmt.Sprintf("feature %d (code %q): %s", e.Index, e.Code, e.Reason)
	default:
		return fmt.Sprintf("feature %d: %s", e.Index, e.Reason)
	}
}

// maxProblems caps how many problems an ImportError lists.
const maxProblems = 50

// ImportError is returned when an import is rejected. Nothing of a rejected
// import may be stored.
type ImportError struct {
	// Problems lists the problems found, in document order, at most 50.
	Problems []FeatureError
	// More counts the problems found beyond those listed in Problems.
	More int
}

// Error lists every problem on its own line.
func (e *ImportError) Error() string {
	n := len(e.Problems) + e.More
	var b strings.Builder
	if n == 1 {
		b.WriteString("grid import rejected: 1 problem")
	} else {
		fmt.Fprintf(&b, "grid import rejected: %d problems", n)
	}
	for _, p := range e.Problems {
		b.WriteString("\n")
		b.WriteString(p.Error())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n… and %d more", e.More)
	}
	return b.String()
}

// add records a problem, keeping at most maxProblems.
func (e *ImportError) add(p FeatureError) {
	if len(e.Problems) < maxProblems {
		e.Problems = append(e.Problems, p)
		return
	}
	e.More++
}

// checkCode returns the trimmed code, or a reason it is not acceptable.
func checkCode(code string) (string, string) {
	code = strings.TrimSpace(code)
	if code == "" {
		return "", "property code is empty; want " + allowedCode
	}
	if n := utf8.RuneCountInString(code); n > maxCodeLen {
		return "", fmt.Sprintf("property code is %d characters long; want %s", n, allowedCode)
	}
	for _, r := range code {
		if !codeRune(r) {
			return "", fmt.Sprintf("property code %q contains %s; want %s", code, describeRune(r), allowedCode)
		}
	}
	return code, ""
}

func codeRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '_' || r == '.' || r == '-'
}

func describeRune(r rune) string {
	switch {
	case r == ' ':
		return "a space"
	case unicode.IsPrint(r):
		return strconv.QuoteRune(r)
	default:
		return fmt.Sprintf("the character %U", r)
	}
}

// checkText returns the trimmed text of property field, or a reason it is not
// acceptable. An empty text is acceptable only when it is not required.
func checkText(field, s string, required bool, maxLen int) (string, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			return "", fmt.Sprintf("property %s is empty; want 1-%d characters", field, maxLen)
		}
		return "", ""
	}
	if n := utf8.RuneCountInString(s); n > maxLen {
		return "", fmt.Sprintf("property %s is %d characters long; at most %d are allowed", field, n, maxLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", fmt.Sprintf("property %s contains %s; control characters are not allowed", field, describeRune(r))
		}
	}
	return s, ""
}

// formatPosition writes a position the way it appears in GeoJSON.
func formatPosition(p orb.Point) string {
	return "[" + formatCoord(p[0]) + "," + formatCoord(p[1]) + "]"
}

func formatCoord(f float64) string {
	return strconv.FormatFloat(f, 'g', -1, 64)
}
