package grid

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParseFeatureCollection checks that any input either is rejected with
// an *ImportError or yields cells that survive Marshal→Parse unchanged and
// can be indexed. The seeds run as an ordinary test under go test.
func FuzzParseFeatureCollection(f *testing.F) {
	files, err := filepath.Glob("testdata/*.geojson")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	// Small seeds keep the fuzzer fast; ChangshaDemo's round trip is tested
	// elsewhere.
	demo, err := MarshalFeatureCollection(GridCells("F", "区", 112.9, 28.1, 0.01, 2, 1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(demo)
	for _, doc := range []string{
		collection(feature(props("A", "甲"), polygon(square))),
		collection(feature(`{"code":" A ","name":" n ","district":null}`,
			`{"type":"MultiPolygon","coordinates":[[[[0,0],[4,0],[4,4],[0,4],[0,0]],[[1,1],[1,2],[2,2],[2,1],[1,1]]],[[[5,0],[6,0],[6,1],[5,0]]]]}`)),
		collection(feature(props("A", "n"), polygon(`[[[1,1,5],[2,1,5],[2,2,5],[1,1,5]]]`))),
		collection(feature(props("A", "n"), polygon(`[[[112.9,28.1],[112.95,28.15],[112.9,28.15],[112.95,28.1]]]`))),
		collection(feature(props("A", "n"), polygon(`[[[1,1],[2,1],[2,1e400],[1,1]]]`))),
		collection(feature(props("A", "n"), `{"type":"Point","coordinates":[1,2]}`)),
		collection(feature(props("A", "n"), polygon(square)), feature(props("A", "n"), polygon(square))),
		collection(feature(`{"code":1,"name":[]}`, `null`)),
		collection(),
		`{"type":"FeatureCollection","features":[-]}`,
		`{"type":"Feature"}`,
		`[]`,
		``,
	} {
		f.Add([]byte(doc))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		cells, err := ParseFeatureCollection(data)
		if err != nil {
			var ie *ImportError
			if !errors.As(err, &ie) {
				t.Fatalf("got error %T %v; want *ImportError", err, err)
			}
			if len(ie.Problems) == 0 {
				t.Fatal("ImportError lists no problems")
			}
			for _, p := range ie.Problems {
				if p.Reason == "" || p.Index < -1 {
					t.Fatalf("bad problem %#v", p)
				}
			}
			if cells != nil {
				t.Fatalf("got %d cells with an error", len(cells))
			}
			return
		}
		if len(cells) == 0 || len(cells) > MaxCells {
			t.Fatalf("got %d cells without an error", len(cells))
		}

		out, err := MarshalFeatureCollection(cells)
		if err != nil {
			t.Fatalf("MarshalFeatureCollection: %v", err)
		}
		again, err := ParseFeatureCollection(out)
		if err != nil {
			t.Fatalf("parse of marshalled cells: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, cells) {
			t.Fatalf("round trip changed the cells:\ngot  %+v\nwant %+v", again, cells)
		}

		// A cell's first vertex is on its border, so it locates to that cell
		// or to one with a smaller code.
		ix := NewIndex(cells)
		for _, c := range cells {
			v := c.Geometry[0][0][0]
			got, ok := ix.Locate(v[1], v[0])
			if !ok || got.Code > c.Code {
				t.Fatalf("vertex %v of %s located in %q (%v)", v, c.Code, got.Code, ok)
			}
		}
	})
}
