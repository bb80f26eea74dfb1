package policy

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nuanxin/nuanxin/storage"
)

const (
	rulesCollection = "policy_rules"
	metaCollection  = "policy_meta"
	// casbin's adapter interface carries no context; every store call it makes
	// gets this much time.
	adapterTimeout = 10 * time.Second
)

// Adapter is a casbin persist.Adapter over the document store. It stores role
// assignments ("g" rules) only: the "p" rules are the embedded base policy,
// which is code, so adding or removing them at run time is refused.
//
// Each rule is a document whose _id is the rule itself, so adding a rule twice
// (from two instances at once) leaves one document: the unique _id decides.
type Adapter struct {
	coll *mongo.Collection
	meta *mongo.Collection
	base string
}

var _ persist.Adapter = (*Adapter)(nil)

type ruleDoc struct {
	ID    string `bson:"_id"`
	PType string `bson:"ptype"`
	V0    string `bson:"v0"`
	V1    string `bson:"v1"`
	V2    string `bson:"v2"`
}

func newAdapter(db *mongo.Database, base string) *Adapter {
	return &Adapter{coll: db.Collection(rulesCollection), meta: db.Collection(metaCollection), base: base}
}

func adapterIndexes() []storage.Index {
	return []storage.Index{
		{Collection: rulesCollection, Name: "ptype_v0_v1_v2", Keys: bson.D{{Key: "ptype", Value: 1}, {Key: "v0", Value: 1}, {Key: "v1", Value: 1}, {Key: "v2", Value: 1}}},
		{Collection: rulesCollection, Name: "ptype_v1_v2", Keys: bson.D{{Key: "ptype", Value: 1}, {Key: "v1", Value: 1}, {Key: "v2", Value: 1}}},
	}
}

func ruleID(ptype string, rule []string) string {
	return ptype + "|" + strings.Join(rule, "|")
}

// LoadPolicy loads the embedded base policy and every stored assignment.
func (a *Adapter) LoadPolicy(m model.Model) error {
	sc := bufio.NewScanner(strings.NewReader(a.base))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := persist.LoadPolicyLine(line, m); err != nil {
			return fmt.Errorf("base policy line %q: %w", line, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), adapterTimeout)
	defer cancel()
	cur, err := a.coll.Find(ctx, bson.D{{Key: "ptype", Value: "g"}})
	if err != nil {
		return fmt.Errorf("load assignments: %w", err)
	}
	var docs []ruleDoc
	if err := cur.All(ctx, &docs); err != nil {
		return fmt.Errorf("load assignments: %w", err)
	}
	for _, d := range docs {
		if err := persist.LoadPolicyArray([]string{d.PType, d.V0, d.V1, d.V2}, m); err != nil {
			return fmt.Errorf("assignment %s: %w", d.ID, err)
		}
	}
	return nil
}

// SavePolicy is refused: assignments are changed one by one, never rewritten
// wholesale, so that instances cannot overwrite each other's changes.
func (a *Adapter) SavePolicy(model.Model) error {
	return errors.New("policy: SavePolicy is not supported; change assignments one at a time")
}

// AddPolicy stores one assignment. Storing an existing one is not an error.
func (a *Adapter) AddPolicy(_ string, ptype string, rule []string) error {
	if ptype != "g" || len(rule) != 3 {
		return fmt.Errorf("policy: only role assignments (g, 3 fields) are stored, got %s %v", ptype, rule)
	}
	ctx, cancel := context.WithTimeout(context.Background(), adapterTimeout)
	defer cancel()
	_, err := a.coll.InsertOne(ctx, ruleDoc{ID: ruleID(ptype, rule), PType: ptype, V0: rule[0], V1: rule[1], V2: rule[2]})
	if err != nil && !storage.IsDuplicateKey(err) {
		return fmt.Errorf("store assignment: %w", err)
	}
	return nil
}

// RemovePolicy deletes one assignment.
func (a *Adapter) RemovePolicy(_ string, ptype string, rule []string) error {
	if ptype != "g" {
		return fmt.Errorf("policy: base policy rules cannot be removed at run time")
	}
	ctx, cancel := context.WithTimeout(context.Background(), adapterTimeout)
	defer cancel()
	if _, err := a.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: ruleID(ptype, rule)}}); err != nil {
		return fmt.Errorf("remove assignment: %w", err)
	}
	return nil
}

// RemoveFilteredPolicy deletes the assignments whose fields from fieldIndex on
// equal fieldValues (an empty value matches anything).
func (a *Adapter) RemoveFilteredPolicy(_ string, ptype string, fieldIndex int, fieldValues ...string) error {
	if ptype != "g" {
		return fmt.Errorf("policy: base policy rules cannot be removed at run time")
	}
	filter := bson.D{{Key: "ptype", Value: ptype}}
	for i, v := range fieldValues {
		if v == "" {
			continue
		}
		filter = append(filter, bson.E{Key: fmt.Sprintf("v%d", fieldIndex+i), Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), adapterTimeout)
	defer cancel()
	if _, err := a.coll.DeleteMany(ctx, filter); err != nil {
		return fmt.Errorf("remove assignments: %w", err)
	}
	return nil
}

type metaDoc struct {
	ID  string    `bson:"_id"`
	Rev string    `bson:"rev"`
	At  time.Time `bson:"at"`
}

// bump records that the assignments changed, so other instances reload. A
// random revision (not a counter) needs no atomic increment.
func (a *Adapter) bump(ctx context.Context) error {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	_, err := a.meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: "rev"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "rev", Value: hex.EncodeToString(b)}, {Key: "at", Value: time.Now().UTC()}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("record policy change: %w", err)
	}
	return nil
}

func (a *Adapter) revision(ctx context.Context) (string, error) {
	var d metaDoc
	err := a.meta.FindOne(ctx, bson.D{{Key: "_id", Value: "rev"}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read policy revision: %w", err)
	}
	return d.Rev, nil
}
