package grid

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

const (
	cellsCollection       = "grid_cells"
	metaCollection        = "grid_meta"
	assignmentsCollection = "grid_assignments"
)

// Indexes lists the indexes the grid needs.
func Indexes() []storage.Index {
	return []storage.Index{
		{Collection: cellsCollection, Name: "rev_code", Keys: bson.D{{Key: "rev", Value: 1}, {Key: "code", Value: 1}}, Unique: true},
		{Collection: cellsCollection, Name: "imported_at", Keys: bson.D{{Key: "imported_at", Value: 1}}},
		{Collection: assignmentsCollection, Name: "primary", Keys: bson.D{{Key: "primary.id", Value: 1}}},
		{Collection: assignmentsCollection, Name: "backup", Keys: bson.D{{Key: "backup.id", Value: 1}}},
	}
}

// A map revision is a set of cell documents sharing "rev"; the meta document
// names the current one. An import writes a whole new revision and then
// switches the pointer, a single-document write, so readers see the old map
// or the new one and never a mixture, without transactions.
type cellDoc struct {
	ID         string    `bson:"_id"`
	Rev        string    `bson:"rev"`
	Code       string    `bson:"code"`
	Name       string    `bson:"name"`
	District   string    `bson:"district"`
	GeoJSON    string    `bson:"geojson"`
	ImportedAt time.Time `bson:"imported_at"`
}

type metaDoc struct {
	ID      string    `bson:"_id"`
	Rev     string    `bson:"rev"`     // current map revision
	Version string    `bson:"version"` // changes with every map or assignment change
	At      time.Time `bson:"at"`
}

// OfficerRef names an officer on a cell.
type OfficerRef struct {
	ID   string `bson:"id" json:"id"`
	Name string `bson:"name" json:"name"`
}

// Assignment is who answers for a cell: the primary officer, and the backup
// who steps in when the primary is absent or a deadline is missed.
type Assignment struct {
	Code      string      `bson:"_id" json:"code"`
	Primary   *OfficerRef `bson:"primary,omitempty" json:"primary,omitempty"`
	Backup    *OfficerRef `bson:"backup,omitempty" json:"backup,omitempty"`
	UpdatedAt time.Time   `bson:"updated_at" json:"updated_at"`
}

type store struct {
	cells, meta, assignments *mongo.Collection
}

func newStore(db *mongo.Database) *store {
	return &store{cells: db.Collection(cellsCollection), meta: db.Collection(metaCollection), assignments: db.Collection(assignmentsCollection)}
}

func (s *store) current(ctx context.Context) (metaDoc, error) {
	var m metaDoc
	err := s.meta.FindOne(ctx, bson.D{{Key: "_id", Value: "current"}}).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return metaDoc{}, nil
	}
	if err != nil {
		return metaDoc{}, fmt.Errorf("read grid revision: %w", err)
	}
	return m, nil
}

func (s *store) setCurrent(ctx context.Context, rev, version string, at time.Time) error {
	set := bson.D{{Key: "version", Value: version}, {Key: "at", Value: at}}
	if rev != "" {
		set = append(set, bson.E{Key: "rev", Value: rev})
	}
	_, err := s.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: "current"}}, bson.D{{Key: "$set", Value: set}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("switch grid revision: %w", err)
	}
	return nil
}

func (s *store) cellsOf(ctx context.Context, rev string) ([]Cell, error) {
	if rev == "" {
		return nil, nil
	}
	cur, err := s.cells.Find(ctx, bson.D{{Key: "rev", Value: rev}}, options.Find().SetSort(bson.D{{Key: "code", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("load grid cells: %w", err)
	}
	var docs []cellDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("load grid cells: %w", err)
	}
	cells := make([]Cell, 0, len(docs))
	for _, d := range docs {
		g, err := decodeGeometry([]byte(d.GeoJSON))
		if err != nil {
			return nil, fmt.Errorf("stored cell %s: %w", d.Code, err)
		}
		cells = append(cells, Cell{Code: d.Code, Name: d.Name, District: d.District, Geometry: g})
	}
	return cells, nil
}

func (s *store) writeRevision(ctx context.Context, rev string, cells []Cell, at time.Time) error {
	const batch = 1000
	docs := make([]any, 0, batch)
	flush := func() error {
		if len(docs) == 0 {
			return nil
		}
		if _, err := s.cells.InsertMany(ctx, docs); err != nil {
			return fmt.Errorf("store grid cells: %w", err)
		}
		docs = docs[:0]
		return nil
	}
	for _, c := range cells {
		g, err := encodeGeometry(c.Geometry)
		if err != nil {
			return err
		}
		docs = append(docs, cellDoc{ID: rev + "/" + c.Code, Rev: rev, Code: c.Code, Name: c.Name, District: c.District, GeoJSON: string(g), ImportedAt: at})
		if len(docs) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// dropRevisions deletes the cells of rev, and of any revision that is not
// current and older than cutoff (left by an import that stopped half-way).
func (s *store) dropRevisions(ctx context.Context, rev, current string, cutoff time.Time) error {
	if rev != "" && rev != current {
		if _, err := s.cells.DeleteMany(ctx, bson.D{{Key: "rev", Value: rev}}); err != nil {
			return err
		}
	}
	_, err := s.cells.DeleteMany(ctx, bson.D{{Key: "rev", Value: bson.D{{Key: "$ne", Value: current}}}, {Key: "imported_at", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	return err
}

func (s *store) assignmentsAll(ctx context.Context) (map[string]Assignment, error) {
	cur, err := s.assignments.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("load assignments: %w", err)
	}
	var docs []Assignment
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("load assignments: %w", err)
	}
	out := make(map[string]Assignment, len(docs))
	for _, a := range docs {
		out[a.Code] = a
	}
	return out, nil
}

func (s *store) putAssignment(ctx context.Context, a Assignment) error {
	_, err := s.assignments.ReplaceOne(ctx, bson.D{{Key: "_id", Value: a.Code}}, a, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("store assignment: %w", err)
	}
	return nil
}

func (s *store) deleteAssignment(ctx context.Context, code string) error {
	_, err := s.assignments.DeleteOne(ctx, bson.D{{Key: "_id", Value: code}})
	return err
}

// Stored geometry is GeoJSON text: compact, and readable in a database shell.
func encodeGeometry(mp orb.MultiPolygon) ([]byte, error) {
	return geojson.NewGeometry(mp).MarshalJSON()
}

func decodeGeometry(b []byte) (orb.MultiPolygon, error) {
	g, err := geojson.UnmarshalGeometry(b)
	if err != nil {
		return nil, err
	}
	switch v := g.Geometry().(type) {
	case orb.MultiPolygon:
		return v, nil
	case orb.Polygon:
		return orb.MultiPolygon{v}, nil
	}
	return nil, fmt.Errorf("stored geometry is a %s, not a multipolygon", g.Type)
}
