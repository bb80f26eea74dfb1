package grid

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// MaxCells is the most features one import may hold.
const MaxCells = 50000

// ParseFeatureCollection parses and validates a GeoJSON FeatureCollection of
// Polygon and MultiPolygon features whose properties are code, name and
// district (optional). Codes, names and districts are trimmed; a Polygon
// becomes a one-polygon MultiPolygon; altitudes are dropped.
//
// Any problem rejects the whole document: the error is then an *ImportError
// listing every problem found (at most 50) and no cells are returned. A
// leading UTF-8 byte order mark is ignored. Self-intersecting rings and
// overlapping cells are not detected.
func ParseFeatureCollection(data []byte) ([]Cell, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	features, reason := parseDocument(data)
	if reason != "" {
		return nil, &ImportError{Problems: []FeatureError{{Index: -1, Reason: reason}}}
	}

	var ie ImportError
	cells := make([]Cell, 0, len(features))
	firstByCode := make(map[string]int, len(features))
	for i, raw := range features {
		cell, shownCode, reasons := parseFeature(raw)
		for _, r := range reasons {
			ie.add(FeatureError{Index: i, Code: shownCode, Reason: r})
		}
		if cell.Code != "" {
			if first, dup := firstByCode[cell.Code]; dup {
				ie.add(FeatureError{Index: i, Code: shownCode,
					Reason: fmt.Sprintf("code %q is already used by feature %d; codes must be unique", cell.Code, first)})
				continue
			}
			firstByCode[cell.Code] = i
		}
		if len(reasons) == 0 {
			cells = append(cells, cell)
		}
	}
	if len(ie.Problems) > 0 {
		return nil, &ie
	}
	return cells, nil
}

// parseDocument returns the raw features of a FeatureCollection, or the
// reason the document as a whole is unacceptable.
func parseDocument(data []byte) ([]json.RawMessage, string) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, "the document is empty; want a GeoJSON FeatureCollection"
	}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
			return nil, fmt.Sprintf("the document is not valid JSON: %v (at byte %d)", se, se.Offset)
		}
		return nil, fmt.Sprintf("the document is not valid JSON: %v", err)
	}
	doc, ok := jsonObject(data)
	if !ok {
		return nil, fmt.Sprintf("the document is a JSON %s; want a GeoJSON FeatureCollection object", jsonKind(data))
	}
	if reason := checkType(doc, "the document's ", "FeatureCollection"); reason != "" {
		return nil, reason
	}
	raw, ok := doc["features"]
	if !ok {
		return nil, `the document has no "features" member; want an array of features`
	}
	features, ok := jsonArray(raw)
	if !ok {
		return nil, fmt.Sprintf(`the document's "features" is a %s; want an array of features`, jsonKind(raw))
	}
	if len(features) == 0 {
		return nil, `the document's "features" is empty; at least one feature is required`
	}
	if len(features) > MaxCells {
		return nil, fmt.Sprintf("the document has %d features; at most %d are allowed", len(features), MaxCells)
	}
	return features, ""
}

// checkType checks that object's "type" member is the string want; whose
// begins the message, e.g. "the document's ".
func checkType(object map[string]json.RawMessage, whose, want string) string {
	raw, ok := object["type"]
	if !ok {
		return fmt.Sprintf(`%s"type" is missing; want %q`, whose, want)
	}
	got, ok := jsonString(raw)
	if !ok {
		return fmt.Sprintf(`%s"type" is a %s; want %q`, whose, jsonKind(raw), want)
	}
	if got != want {
		return fmt.Sprintf(`%s"type" is %q; want %q`, whose, got, want)
	}
	return ""
}

// parseFeature returns the cell a feature describes, the code to show in
// error messages and the reasons the feature is unacceptable, if any.
// cell.Code is set whenever the code itself is valid, so that duplicates are
// found even in features with other problems.
func parseFeature(raw json.RawMessage) (cell Cell, shownCode string, reasons []string) {
	feature, ok := jsonObject(raw)
	if !ok {
		return Cell{}, "", []string{fmt.Sprintf("feature is a JSON %s; want an object with type, geometry and properties", jsonKind(raw))}
	}
	if r := checkType(feature, "", "Feature"); r != "" {
		reasons = append(reasons, r)
	}

	cell, shownCode, propReasons := parseProperties(feature["properties"])
	reasons = append(reasons, propReasons...)

	geometry, reason := parseGeometry(feature["geometry"])
	if reason != "" {
		reasons = append(reasons, reason)
	}
	cell.Geometry = geometry
	return cell, shownCode, reasons
}

// parseProperties reads code, name and district. raw is nil when the
// feature has no "properties" member.
func parseProperties(raw json.RawMessage) (cell Cell, shownCode string, reasons []string) {
	if raw == nil || jsonKind(raw) == "null" {
		return Cell{}, "", []string{`feature has no properties; want an object with code, name and (optional) district`}
	}
	props, ok := jsonObject(raw)
	if !ok {
		return Cell{}, "", []string{fmt.Sprintf("properties is a JSON %s; want an object with code, name and (optional) district", jsonKind(raw))}
	}

	code, present, reason := stringProperty(props, "code", "a string of "+allowedCode)
	switch {
	case reason != "":
		reasons = append(reasons, reason)
	case !present:
		reasons = append(reasons, "property code is missing; want "+allowedCode)
	default:
		shownCode = truncate(strings.TrimSpace(code), maxCodeLen)
		if cell.Code, reason = checkCode(code); reason != "" {
			reasons = append(reasons, reason)
		}
	}

	name, present, reason := stringProperty(props, "name", fmt.Sprintf("a string of 1-%d characters", maxNameLen))
	switch {
	case reason != "":
		reasons = append(reasons, reason)
	case !present:
		reasons = append(reasons, fmt.Sprintf("property name is missing; want 1-%d characters", maxNameLen))
	default:
		if cell.Name, reason = checkText("name", name, true, maxNameLen); reason != "" {
			reasons = append(reasons, reason)
		}
	}

	district, _, reason := stringProperty(props, "district", fmt.Sprintf("a string of at most %d characters", maxDistrictLen))
	if reason == "" {
		cell.District, reason = checkText("district", district, false, maxDistrictLen)
	}
	if reason != "" {
		reasons = append(reasons, reason)
	}
	return cell, shownCode, reasons
}

// stringProperty reads a string property. A null property counts as absent;
// any other non-string value is a problem, explained with want.
func stringProperty(props map[string]json.RawMessage, key, want string) (value string, present bool, reason string) {
	raw, ok := props[key]
	if !ok || jsonKind(raw) == "null" {
		return "", false, ""
	}
	s, ok := jsonString(raw)
	if !ok {
		return "", true, fmt.Sprintf("property %s is a %s; want %s", key, jsonKind(raw), want)
	}
	return s, true, ""
}

// parseGeometry reads a Polygon or MultiPolygon. raw is nil when the feature
// has no "geometry" member.
func parseGeometry(raw json.RawMessage) (orb.MultiPolygon, string) {
	if raw == nil || jsonKind(raw) == "null" {
		return nil, "feature has no geometry; want a Polygon or MultiPolygon"
	}
	geometry, ok := jsonObject(raw)
	if !ok {
		return nil, fmt.Sprintf("geometry is a JSON %s; want a Polygon or MultiPolygon object", jsonKind(raw))
	}
	rawType, ok := geometry["type"]
	if !ok {
		return nil, `geometry has no type; want "Polygon" or "MultiPolygon"`
	}
	typ, ok := jsonString(rawType)
	if !ok {
		return nil, fmt.Sprintf(`geometry type is a %s; want "Polygon" or "MultiPolygon"`, jsonKind(rawType))
	}
	if typ != "Polygon" && typ != "MultiPolygon" {
		return nil, fmt.Sprintf("geometry type is %q; only Polygon and MultiPolygon are allowed", typ)
	}
	coords, ok := geometry["coordinates"]
	if !ok || jsonKind(coords) == "null" {
		return nil, fmt.Sprintf("%s geometry has no coordinates", typ)
	}

	// The coordinates are read with a scanner of their own rather than
	// encoding/json: one pass, no allocation per position, and every value
	// checked (altitudes included) with its place named in the message.
	sc := &scanner{data: coords}
	if typ == "Polygon" {
		p, reason := parsePolygon(sc, "")
		if reason != "" {
			return nil, reason
		}
		return orb.MultiPolygon{p}, ""
	}

	if k := sc.kind(); k != "array" {
		return nil, fmt.Sprintf("MultiPolygon coordinates are a %s; want an array of polygons", k)
	}
	var mp orb.MultiPolygon
	reason := sc.elements(func(i int) string {
		p, reason := parsePolygon(sc, fmt.Sprintf("polygon %d ", i))
		mp = append(mp, p)
		return reason
	})
	if reason != "" {
		return nil, reason
	}
	if len(mp) == 0 {
		return nil, "MultiPolygon has no polygons"
	}
	return mp, ""
}

// parsePolygon reads an array of linear rings. where prefixes messages: ""
// for a Polygon, "polygon 2 " for a part of a MultiPolygon.
func parsePolygon(sc *scanner, where string) (orb.Polygon, string) {
	if k := sc.kind(); k != "array" {
		if where == "" {
			return nil, fmt.Sprintf("Polygon coordinates are a %s; want an array of linear rings", k)
		}
		return nil, fmt.Sprintf("%sis a %s; want an array of linear rings", where, k)
	}
	var p orb.Polygon
	reason := sc.elements(func(i int) string {
		r, reason := parseRing(sc, fmt.Sprintf("%sring %d", where, i))
		p = append(p, r)
		return reason
	})
	if reason != "" {
		return nil, reason
	}
	if len(p) == 0 {
		if where == "" {
			return nil, "polygon has no rings"
		}
		return nil, where + "has no rings"
	}
	return p, ""
}

// parseRing reads one closed linear ring; where names it in messages.
func parseRing(sc *scanner, where string) (orb.Ring, string) {
	if k := sc.kind(); k != "array" {
		return nil, fmt.Sprintf("%s is a %s; want an array of [longitude, latitude] positions", where, k)
	}
	var ring orb.Ring
	reason := sc.elements(func(i int) string {
		p, reason := parsePosition(sc)
		if reason != "" {
			return fmt.Sprintf("%s position %d %s", where, i, reason)
		}
		ring = append(ring, p)
		return ""
	})
	if reason != "" {
		return nil, reason
	}
	if len(ring) < 4 {
		return nil, fmt.Sprintf("%s has %d positions; a closed ring needs at least 4 (the last repeating the first)", where, len(ring))
	}
	first, last := ring[0], ring[len(ring)-1]
	if first != last {
		return nil, fmt.Sprintf("%s is not closed: first position %s differs from last %s",
			where, formatPosition(first), formatPosition(last))
	}
	if shoelace(ring) == 0 {
		return nil, fmt.Sprintf("%s encloses no area: its positions lie on one line", where)
	}
	return ring, ""
}

// parsePosition reads [longitude, latitude] (further values, such as an
// altitude, must be numbers and are dropped). The reason, if any, continues
// a sentence that names the position.
func parsePosition(sc *scanner) (orb.Point, string) {
	if k := sc.kind(); k != "array" {
		return orb.Point{}, fmt.Sprintf("is a %s; want [longitude, latitude]", k)
	}
	var p orb.Point
	n := 0
	reason := sc.elements(func(i int) string {
		n = i + 1
		name := "value " + strconv.Itoa(i)
		switch i {
		case 0:
			name = "longitude"
		case 1:
			name = "latitude"
		}
		if k := sc.kind(); k != "number" {
			return fmt.Sprintf("has a %s as %s; want a number", k, name)
		}
		text := sc.number()
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Sprintf("has %s %s, which is not a finite number", name, truncate(text, 40))
		}
		switch {
		case i == 0 && (f < -180 || f > 180):
			return fmt.Sprintf("has longitude %s outside [-180, 180] (positions are [longitude, latitude])", text)
		case i == 1 && (f < -90 || f > 90):
			return fmt.Sprintf("has latitude %s outside [-90, 90] (positions are [longitude, latitude])", text)
		}
		if i < 2 {
			p[i] = f
		}
		return ""
	})
	if reason != "" {
		return orb.Point{}, reason
	}
	if n < 2 {
		return orb.Point{}, fmt.Sprintf("has %d values; want [longitude, latitude]", n)
	}
	return p, ""
}

// scanner walks nested arrays of numbers in JSON text that encoding/json
// has already found valid. It still checks every byte it relies on, so that
// no input can make it panic or loop.
type scanner struct {
	data []byte
	pos  int
}

// errMalformed should not occur after json.Valid; it guards the scanner.
const errMalformed = "coordinates are not well-formed JSON"

func (sc *scanner) skipSpace() {
	for sc.pos < len(sc.data) {
		switch sc.data[sc.pos] {
		case ' ', '\t', '\n', '\r':
			sc.pos++
		default:
			return
		}
	}
}

// kind names the kind of the value at the current position.
func (sc *scanner) kind() string {
	sc.skipSpace()
	if sc.pos >= len(sc.data) {
		return "nothing"
	}
	return jsonKind(sc.data[sc.pos : sc.pos+1])
}

// elements calls elem for each element of the array at the current
// position, which the caller has checked is an array. elem must consume
// exactly one value or return a reason, which ends the walk.
func (sc *scanner) elements(elem func(i int) string) string {
	sc.pos++ // '['
	sc.skipSpace()
	if sc.pos < len(sc.data) && sc.data[sc.pos] == ']' {
		sc.pos++
		return ""
	}
	for i := 0; ; i++ {
		if reason := elem(i); reason != "" {
			return reason
		}
		sc.skipSpace()
		if sc.pos >= len(sc.data) {
			return errMalformed
		}
		c := sc.data[sc.pos]
		sc.pos++
		switch c {
		case ']':
			return ""
		case ',':
		default:
			return errMalformed
		}
	}
}

// number consumes the number at the current position and returns its text.
func (sc *scanner) number() string {
	start := sc.pos
	for sc.pos < len(sc.data) && numberByte(sc.data[sc.pos]) {
		sc.pos++
	}
	return string(sc.data[start:sc.pos])
}

func numberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// shoelace returns twice the signed area of a closed ring, in square degrees.
func shoelace(r orb.Ring) float64 {
	var sum float64
	for i := 0; i+1 < len(r); i++ {
		sum += r[i][0]*r[i+1][1] - r[i+1][0]*r[i][1]
	}
	return sum
}

// jsonKind names the kind of JSON value raw holds, for messages.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// jsonObject decodes raw if it is a JSON object. encoding/json would decode
// null into a nil map without complaint, hence the kind check.
func jsonObject(raw []byte) (map[string]json.RawMessage, bool) {
	if jsonKind(raw) != "object" {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, false
	}
	return m, true
}

// jsonArray decodes raw if it is a JSON array.
func jsonArray(raw []byte) ([]json.RawMessage, bool) {
	if jsonKind(raw) != "array" {
		return nil, false
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, false
	}
	return a, true
}

// jsonString decodes raw if it is a JSON string.
func jsonString(raw []byte) (string, bool) {
	if jsonKind(raw) != "string" {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// truncate shortens s to at most n characters for display.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// cellProperties is the properties object of an exported feature.
type cellProperties struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	District string `json:"district"`
}

// MarshalFeatureCollection writes cells as a GeoJSON FeatureCollection with
// properties code, name and district, in the order given. A one-polygon cell
// is written as a Polygon, others as a MultiPolygon. The output of a non-empty,
// valid list parses back with ParseFeatureCollection into equal cells.
// It fails only when a coordinate cannot be written (NaN or infinite).
func MarshalFeatureCollection(cells []Cell) ([]byte, error) {
	fc := geojson.FeatureCollectionOf[cellProperties]{
		Type:     "FeatureCollection",
		Features: make([]*geojson.FeatureOf[cellProperties], 0, len(cells)),
	}
	for _, c := range cells {
		var g orb.Geometry = c.Geometry
		if len(c.Geometry) == 1 {
			g = c.Geometry[0]
		}
		fc.Features = append(fc.Features, &geojson.FeatureOf[cellProperties]{
			Type:       "Feature",
			Geometry:   g,
			Properties: cellProperties{Code: c.Code, Name: c.Name, District: c.District},
		})
	}
	data, err := json.Marshal(fc)
	if err != nil {
		return nil, fmt.Errorf("grid: marshal feature collection: %w", err)
	}
	return data, nil
}
