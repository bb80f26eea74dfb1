package council

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/storage"
)

const stationsCollection = "stations"

// Indexes lists the indexes council needs.
func Indexes() []storage.Index {
	return []storage.Index{
		{Collection: stationsCollection, Name: "name_unique", Keys: bson.D{{Key: "name", Value: 1}}, Unique: true},
	}
}

// Roles is what council needs from the policy store.
type Roles interface {
	Grant(ctx context.Context, subject, role, domain string) error
}

// StationAdminLookup reports whether id is an enabled station-admin account.
type StationAdminLookup func(ctx context.Context, id string) (bool, error)

// Service manages stations and keeps this instance's station directory
// (see directory.go): call Load at start and run Watch.
type Service struct {
	coll    *mongo.Collection
	meta    *mongo.Collection
	roles   Roles
	isAdmin StationAdminLookup
	log     *slog.Logger
	dir     directory
	writeMu sync.Mutex // one station update at a time in this instance; see writeStation
}

// NewService builds the council service with an empty directory; Load fills it.
func NewService(db *mongo.Database, roles Roles, isAdmin StationAdminLookup, log *slog.Logger) *Service {
	s := &Service{coll: db.Collection(stationsCollection), meta: db.Collection(stationsMetaCollection), roles: roles, isAdmin: isAdmin, log: log}
	s.dir.snap.Store(newDirSnapshot("", map[string]Station{}))
	return s
}

// Create opens a station. Errors: *ValidationError, ErrNameTaken.
func (s *Service) Create(ctx context.Context, in NewStation) (Station, error) {
	in, err := in.clean()
	if err != nil {
		return Station{}, err
	}
	st := Station{
		ID: bson.NewObjectID().Hex(), Name: in.Name, Address: in.Address, Lat: in.Lat, Lng: in.Lng,
		Open: true, Hours: in.Hours, Facilities: in.Facilities, Services: in.Services,
		Photos: []string{}, Admins: []string{}, CreatedAt: time.Now().UTC(),
	}.withEmptyLists()
	if _, err := s.coll.InsertOne(ctx, st); err != nil {
		if storage.IsDuplicateKey(err) {
			return Station{}, ErrNameTaken
		}
		return Station{}, fmt.Errorf("insert station: %w", err)
	}
	s.changed(ctx, st)
	return st, nil
}

// List returns every station by name, from this instance's directory
// (Load, Watch): a page listing stations reads no collection, and a change
// made on another instance shows within one Watch interval.
func (s *Service) List(ctx context.Context) ([]Station, error) {
	sn := s.dir.snap.Load()
	out := make([]Station, 0, len(sn.stations))
	for _, st := range sn.stations {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b Station) int { return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID)) })
	return out, nil
}

// Get returns one station or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Station, error) {
	var st Station
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&st)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Station{}, ErrNotFound
	}
	if err != nil {
		return Station{}, fmt.Errorf("find station: %w", err)
	}
	return st.withEmptyLists(), nil
}

// AddAdmin makes an enabled station-admin account an admin of the station.
// The role is granted first, so a failure leaves at worst a grant that a retry
// records; adding twice is a no-op.
func (s *Service) AddAdmin(ctx context.Context, stationID, userID string) (Station, error) {
	if _, err := s.Get(ctx, stationID); err != nil {
		return Station{}, err
	}
	ok, err := s.isAdmin(ctx, userID)
	if err != nil {
		return Station{}, err
	}
	if !ok {
		return Station{}, &ValidationError{Field: "user_id", Reason: ErrNotStationUser.Error()}
	}
	if err := s.roles.Grant(ctx, policy.Subject(userID), policy.RoleStationAdmin, policy.StationDomain(stationID)); err != nil {
		return Station{}, err
	}
	// $addToSet is idempotent, so concurrent or repeated adds converge.
	if _, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: stationID}}, bson.D{{Key: "$addToSet", Value: bson.D{{Key: "admins", Value: userID}}}}); err != nil {
		return Station{}, fmt.Errorf("record station admin: %w", err)
	}
	st, err := s.Get(ctx, stationID)
	if err != nil {
		return Station{}, err
	}
	s.changed(ctx, st)
	return st, nil
}
