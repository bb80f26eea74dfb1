package grid

import (
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

// square is the coordinates of a valid Polygon.
const square = `[[[112.9,28.1],[112.95,28.1],[112.95,28.15],[112.9,28.15],[112.9,28.1]]]`

// polygon returns a Polygon geometry member with the given coordinates.
func polygon(coords string) string {
	return `{"type":"Polygon","coordinates":` + coords + `}`
}

// feature returns a Feature with the given properties object and geometry.
func feature(properties, geometry string) string {
	return `{"type":"Feature","properties":` + properties + `,"geometry":` + geometry + `}`
}

// collection wraps features in a FeatureCollection.
func collection(features ...string) string {
	return `{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`
}

// props returns a properties object with code and name.
func props(code, name string) string {
	return fmt.Sprintf(`{"code":%q,"name":%q}`, code, name)
}

func mustParse(t *testing.T, doc string) []Cell {
	t.Helper()
	cells, err := ParseFeatureCollection([]byte(doc))
	if err != nil {
		t.Fatalf("ParseFeatureCollection: %v", err)
	}
	return cells
}

func mustReadFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// mustImportError parses doc and returns the *ImportError it must fail with.
func mustImportError(t *testing.T, doc string) *ImportError {
	t.Helper()
	cells, err := ParseFeatureCollection([]byte(doc))
	if err == nil {
		t.Fatalf("ParseFeatureCollection succeeded with %d cells; want an error", len(cells))
	}
	if cells != nil {
		t.Errorf("got %d cells with the error; want none", len(cells))
	}
	var ie *ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("got error %T %v; want *ImportError", err, err)
	}
	if len(ie.Problems) == 0 {
		t.Fatal("ImportError lists no problems")
	}
	return ie
}

func TestParseFeatureCollectionValid(t *testing.T) {
	t.Run("polygon", func(t *testing.T) {
		cells := mustParse(t, collection(feature(
			`{"code":"  CS-0001 ","name":" 五一广场 ","district":"芙蓉区","extra":1}`, polygon(square))))
		want := []Cell{{
			Code:     "CS-0001",
			Name:     "五一广场",
			District: "芙蓉区",
			Geometry: orb.MultiPolygon{{{{112.9, 28.1}, {112.95, 28.1}, {112.95, 28.15}, {112.9, 28.15}, {112.9, 28.1}}}},
		}}
		if !reflect.DeepEqual(cells, want) {
			t.Errorf("got %+v, want %+v", cells, want)
		}
	})
	t.Run("multipolygon with hole", func(t *testing.T) {
		cells := mustParse(t, collection(feature(props("M_1.a", "两块"),
			`{"type":"MultiPolygon","coordinates":[`+
				`[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[1,2],[2,2],[2,1],[1,1]]],`+
				`[[[5,0],[6,0],[6,1],[5,0]]]]}`)))
		got := cells[0].Geometry
		if len(got) != 2 || len(got[0]) != 2 || len(got[1]) != 1 {
			t.Fatalf("got geometry %v; want 2 polygons, the first with a hole", got)
		}
		if cells[0].District != "" {
			t.Errorf("got district %q, want empty", cells[0].District)
		}
	})
	t.Run("altitude dropped, null district, byte order mark", func(t *testing.T) {
		cells := mustParse(t, "\uFEFF"+collection(feature(`{"code":"A","name":"n","district":null}`,
			polygon(`[[[1,1,10],[2,1,10],[2,2,10],[1,1,10]]]`))))
		want := orb.Ring{{1, 1}, {2, 1}, {2, 2}, {1, 1}}
		if got := cells[0].Geometry[0][0]; !got.Equal(want) {
			t.Errorf("got ring %v, want %v", got, want)
		}
	})
	t.Run("sample file", func(t *testing.T) {
		cells, err := ParseFeatureCollection(mustReadFile(t, "testdata/valid.geojson"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(cells), 3; got != want {
			t.Errorf("got %d cells, want %d", got, want)
		}
	})
}

func TestParseFeatureCollectionInvalid(t *testing.T) {
	ok := feature(props("CS-0001", "甲"), polygon(square))
	tooMany := make([]string, MaxCells+1)
	for i := range tooMany {
		tooMany[i] = "{}"
	}

	tests := []struct {
		name      string
		doc       string
		wantIndex int
		wantCode  string
		want      []string // substrings of the reason
	}{
		{"not JSON", `{"type":"FeatureCollection",`, -1, "", []string{"not valid JSON"}},
		{"bad JSON number", `{"type":"FeatureCollection","features":[-]}`, -1, "", []string{"not valid JSON"}},
		{"empty document", "  ", -1, "", []string{"empty"}},
		{"array document", `[1]`, -1, "", []string{"JSON array", "FeatureCollection"}},
		{"single feature", ok, -1, "", []string{`"Feature"`, `"FeatureCollection"`}},
		{"type missing", `{"features":[]}`, -1, "", []string{`"type" is missing`}},
		{"type not a string", `{"type":7,"features":[]}`, -1, "", []string{"number"}},
		{"features missing", `{"type":"FeatureCollection"}`, -1, "", []string{`no "features" member`}},
		{"features null", `{"type":"FeatureCollection","features":null}`, -1, "", []string{"null", "array"}},
		{"features object", `{"type":"FeatureCollection","features":{}}`, -1, "", []string{"object", "array"}},
		{"features empty", collection(), -1, "", []string{"empty", "at least one"}},
		{"too many features", collection(tooMany...), -1, "", []string{"50001 features", "at most 50000"}},

		{"feature not an object", collection(ok, `[]`), 1, "", []string{"feature is a JSON array"}},
		{"feature type wrong", collection(`{"type":"Feture","properties":{"code":"A","name":"n"},"geometry":` + polygon(square) + `}`),
			0, "A", []string{`"type" is "Feture"; want "Feature"`}},
		{"no geometry", collection(`{"type":"Feature","properties":{"code":"A","name":"n"}}`), 0, "A", []string{"no geometry"}},
		{"null geometry", collection(feature(props("A", "n"), "null")), 0, "A", []string{"no geometry"}},
		{"point geometry", collection(feature(props("A", "n"), `{"type":"Point","coordinates":[1,2]}`)),
			0, "A", []string{`"Point"`, "Polygon and MultiPolygon"}},
		{"geometry collection", collection(feature(props("A", "n"), `{"type":"GeometryCollection","geometries":[]}`)),
			0, "A", []string{`"GeometryCollection"`}},
		{"geometry without type", collection(feature(props("A", "n"), `{"coordinates":`+square+`}`)),
			0, "A", []string{"no type"}},
		{"geometry without coordinates", collection(feature(props("A", "n"), `{"type":"Polygon"}`)),
			0, "A", []string{"no coordinates"}},
		{"polygon with no rings", collection(feature(props("A", "n"), polygon(`[]`))), 0, "A", []string{"polygon has no rings"}},
		{"coordinates not an array", collection(feature(props("A", "n"), polygon(`"x"`))), 0, "A", []string{"string", "rings"}},
		{"ring with 3 positions", collection(feature(props("A", "n"), polygon(`[[[1,1],[2,1],[1,1]]]`))),
			0, "A", []string{"ring 0 has 3 positions", "at least 4"}},
		{"ring not closed", collection(feature(props("A", "n"), polygon(`[[[112.9,28.1],[112.95,28.15],[112.9,28.15],[112.95,28.1]]]`))),
			0, "A", []string{"ring 0 is not closed", "first position [112.9,28.1] differs from last [112.95,28.1]"}},
		{"hole not closed", collection(feature(props("A", "n"), polygon(`[[[0,0],[4,0],[4,4],[0,0]],[[1,1],[2,1],[2,2],[1,2]]]`))),
			0, "A", []string{"ring 1 is not closed"}},
		{"ring with no area", collection(feature(props("A", "n"), polygon(`[[[1,1],[2,2],[3,3],[1,1]]]`))),
			0, "A", []string{"ring 0 encloses no area"}},
		{"longitude out of range", collection(feature(props("A", "n"), polygon(`[[[1,1],[190.5,1],[2,2],[1,1]]]`))),
			0, "A", []string{"ring 0 position 1", "longitude 190.5", "[-180, 180]"}},
		{"latitude out of range", collection(feature(props("A", "n"), polygon(`[[[1,1],[2,1],[2,-91],[1,1]]]`))),
			0, "A", []string{"ring 0 position 2", "latitude -91", "[-90, 90]"}},
		{"infinite number", collection(feature(props("A", "n"), polygon(`[[[1,1],[2,1],[2,1e400],[1,1]]]`))),
			0, "A", []string{"latitude 1e400", "not a finite number"}},
		{"coordinate is a string", collection(feature(props("A", "n"), polygon(`[[[1,1],["2",1],[2,2],[1,1]]]`))),
			0, "A", []string{"position 1", "string as longitude"}},
		{"position with one value", collection(feature(props("A", "n"), polygon(`[[[1,1],[2],[2,2],[1,1]]]`))),
			0, "A", []string{"position 1 has 1 values"}},
		{"multipolygon empty", collection(feature(props("A", "n"), `{"type":"MultiPolygon","coordinates":[]}`)),
			0, "A", []string{"MultiPolygon has no polygons"}},
		{"multipolygon second part not closed", collection(feature(props("A", "n"),
			`{"type":"MultiPolygon","coordinates":[`+square+`,[[[0,0],[1,0],[1,1],[0,1]]]]}`)),
			0, "A", []string{"polygon 1 ring 0 is not closed"}},
		{"multipolygon part with no rings", collection(feature(props("A", "n"),
			`{"type":"MultiPolygon","coordinates":[`+square+`,[]]}`)),
			0, "A", []string{"polygon 1 has no rings"}},

		{"no properties", collection(`{"type":"Feature","geometry":` + polygon(square) + `}`), 0, "", []string{"no properties"}},
		{"properties array", collection(feature(`[]`, polygon(square))), 0, "", []string{"properties is a JSON array"}},
		{"code missing", collection(feature(`{"name":"n"}`, polygon(square))), 0, "", []string{"code is missing", "A-Z a-z 0-9 _ . -"}},
		{"code null", collection(feature(`{"code":null,"name":"n"}`, polygon(square))), 0, "", []string{"code is missing"}},
		{"code empty", collection(feature(props("   ", "n"), polygon(square))), 0, "", []string{"code is empty", "A-Z a-z 0-9 _ . -"}},
		{"code with a space", collection(feature(props("CS 01", "n"), polygon(square))),
			0, "CS 01", []string{`code "CS 01" contains a space`, "A-Z a-z 0-9 _ . -"}},
		{"code with Chinese", collection(feature(props("网格1", "n"), polygon(square))), 0, "网格1", []string{`contains '网'`}},
		{"code too long", collection(feature(props(strings.Repeat("x", 65), "n"), polygon(square))),
			0, strings.Repeat("x", 64) + "…", []string{"65 characters long", "1-64"}},
		{"code a number", collection(feature(`{"code":1001,"name":"n"}`, polygon(square))), 0, "", []string{"code is a number", "string"}},
		{"name missing", collection(feature(`{"code":"A"}`, polygon(square))), 0, "A", []string{"name is missing"}},
		{"name empty", collection(feature(props("A", " \t"), polygon(square))), 0, "A", []string{"name is empty", "1-100"}},
		{"name too long", collection(feature(props("A", strings.Repeat("网", 101)), polygon(square))),
			0, "A", []string{"name is 101 characters long", "at most 100"}},
		{"name with control character", collection(feature(`{"code":"A","name":"a\u0001b"}`, polygon(square))),
			0, "A", []string{"name contains", "control"}},
		{"district not a string", collection(feature(`{"code":"A","name":"n","district":5}`, polygon(square))),
			0, "A", []string{"district is a number"}},
		{"district too long", collection(feature(`{"code":"A","name":"n","district":"`+strings.Repeat("区", 101)+`"}`, polygon(square))),
			0, "A", []string{"district is 101 characters long"}},
		{"duplicate code", collection(ok, feature(props("B", "n"), polygon(square)), feature(props(" CS-0001", "乙"), polygon(square))),
			2, "CS-0001", []string{`code "CS-0001" is already used by feature 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ie := mustImportError(t, tt.doc)
			if got, want := len(ie.Problems), 1; got != want {
				t.Fatalf("got %d problems, want %d: %v", got, want, ie)
			}
			p := ie.Problems[0]
			if p.Index != tt.wantIndex {
				t.Errorf("got index %d, want %d (%v)", p.Index, tt.wantIndex, p)
			}
			if p.Code != tt.wantCode {
				t.Errorf("got code %q, want %q", p.Code, tt.wantCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(p.Reason, w) {
					t.Errorf("reason %q does not mention %q", p.Reason, w)
				}
			}
		})
	}
}

func TestParseFeatureCollectionManyProblems(t *testing.T) {
	t.Run("every bad feature reported", func(t *testing.T) {
		ie := mustImportError(t, string(mustReadFile(t, "testdata/invalid.geojson")))
		type problem struct {
			index int
			code  string
			about string
		}
		want := []problem{
			{1, "CS-0002", "ring 0 is not closed"},
			{2, "CS 0003", "contains a space"},
			{2, "CS 0003", "name is empty"},
			{2, "CS 0003", `geometry type is "Point"`},
			{3, "CS-0001", "latitude 112.97 outside"},
			{3, "CS-0001", "already used by feature 0"},
		}
		if len(ie.Problems) != len(want) {
			t.Fatalf("got %d problems, want %d:\n%v", len(ie.Problems), len(want), ie)
		}
		for i, w := range want {
			p := ie.Problems[i]
			if p.Index != w.index || p.Code != w.code || !strings.Contains(p.Reason, w.about) {
				t.Errorf("problem %d: got %v; want feature %d (code %q) about %q", i, p, w.index, w.code, w.about)
			}
		}
	})
	t.Run("two bad features among good ones", func(t *testing.T) {
		ie := mustImportError(t, collection(
			feature(props("A", "n"), polygon(square)),
			feature(props("B", "n"), `{"type":"LineString","coordinates":[[1,1],[2,2]]}`),
			feature(props("C", "n"), polygon(square)),
			feature(props("D!", "n"), polygon(square)),
		))
		var got []int
		for _, p := range ie.Problems {
			got = append(got, p.Index)
		}
		if want := []int{1, 3}; !reflect.DeepEqual(got, want) {
			t.Errorf("got problems in features %v, want %v: %v", got, want, ie)
		}
	})
	t.Run("capped at 50", func(t *testing.T) {
		features := make([]string, 60)
		for i := range features {
			features[i] = feature(props(fmt.Sprintf("C%d", i), ""), polygon(square))
		}
		ie := mustImportError(t, collection(features...))
		if got, want := len(ie.Problems), 50; got != want {
			t.Errorf("got %d problems listed, want %d", got, want)
		}
		if got, want := ie.More, 10; got != want {
			t.Errorf("got More %d, want %d", got, want)
		}
		if msg := ie.Error(); !strings.Contains(msg, "60 problems") || !strings.Contains(msg, "and 10 more") {
			t.Errorf("message %q does not give the total", msg)
		}
	})
}

func TestFeatureErrorMessage(t *testing.T) {
	features := []string{
		feature(props("CS-0001", "a"), polygon(square)),
		feature(props("CS-0002", "b"), polygon(square)),
		feature(props("CS-0003", "c"), polygon(square)),
		feature(props("CS-0004", "d"), polygon(`[[[112.9,28.1],[112.95,28.15],[112.9,28.15],[112.95,28.1]]]`)),
	}
	ie := mustImportError(t, collection(features...))

	tests := []struct {
		name string
		got  string
		want string
	}{
		{"feature", ie.Problems[0].Error(),
			`feature 3 (code "CS-0004"): ring 0 is not closed: first position [112.9,28.1] differs from last [112.95,28.1]`},
		{"import", ie.Error(),
			"grid import rejected: 1 problem\n" +
				`feature 3 (code "CS-0004"): ring 0 is not closed: first position [112.9,28.1] differs from last [112.95,28.1]`},
		{"document", FeatureError{Index: -1, Reason: "x"}.Error(), "x"},
		{"no code", FeatureError{Index: 2, Reason: "x"}.Error(), "feature 2: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q\nwant %q", tt.got, tt.want)
			}
		})
	}
}

// assertRoundTrip checks that cells survive Marshal→Parse unchanged.
func assertRoundTrip(t *testing.T, cells []Cell) {
	t.Helper()
	data, err := MarshalFeatureCollection(cells)
	if err != nil {
		t.Fatalf("MarshalFeatureCollection: %v", err)
	}
	again, err := ParseFeatureCollection(data)
	if err != nil {
		t.Fatalf("ParseFeatureCollection of marshalled cells: %v\n%s", err, data)
	}
	if !reflect.DeepEqual(again, cells) {
		t.Errorf("round trip changed the cells:\ngot  %+v\nwant %+v", again, cells)
	}
}

func TestMarshalFeatureCollection(t *testing.T) {
	t.Run("round trip", func(t *testing.T) {
		cells, err := ParseFeatureCollection(mustReadFile(t, "testdata/valid.geojson"))
		if err != nil {
			t.Fatal(err)
		}
		assertRoundTrip(t, cells)
	})
	t.Run("polygon written as Polygon", func(t *testing.T) {
		data, err := MarshalFeatureCollection(mustParse(t, collection(feature(props("A", "n"), polygon(square)))))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{`"type":"FeatureCollection"`, `"type":"Polygon"`, `"code":"A"`, `"district":""`} {
			if !strings.Contains(string(data), w) {
				t.Errorf("output %s lacks %s", data, w)
			}
		}
	})
	t.Run("NaN fails", func(t *testing.T) {
		nan := orb.Point{math.NaN(), 0}
		_, err := MarshalFeatureCollection([]Cell{{Code: "A", Name: "n", Geometry: orb.MultiPolygon{{{nan, {1, 1}, {1, 0}, nan}}}}})
		if err == nil {
			t.Error("got no error for a NaN coordinate")
		}
	})
}
