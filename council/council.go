// Package council owns rest stations (暖新驿站 / 司机之家) and, in time, their
// councils: the workers who use a station, their feedback pool and their
// votes. A station is a policy domain: its station admins hold their role
// there.
package council

import (
	"errors"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Station is a rest station where riders rest, charge, and redeem points.
// Its directory entry (hours, facilities, services, photos, open or closed)
// is kept current by its station admins; see directory.go.
type Station struct {
	ID      string  `bson:"_id" json:"id"`
	Name    string  `bson:"name" json:"name"`
	Address string  `bson:"address" json:"address"`
	Lat     float64 `bson:"lat" json:"lat" doc:"WGS-84 latitude"`
	Lng     float64 `bson:"lng" json:"lng" doc:"WGS-84 longitude"`
	// Open is the admins' switch: a closed station is never open now,
	// whatever its hours say.
	Open       bool      `bson:"open" json:"open" doc:"Whether admins have the station open; a closed station is never open now"`
	Hours      Hours     `bson:"hours" json:"hours" doc:"Opening hours per weekday, Asia/Shanghai time"`
	Facilities []string  `bson:"facilities" json:"facilities" doc:"Facility codes, from a fixed set"`
	Services   []string  `bson:"services" json:"services" doc:"Service codes, from a fixed set"`
	Photos     []string  `bson:"photos" json:"photos" doc:"Object keys of the station's photos"`
	Admins     []string  `bson:"admins" json:"admins" doc:"Account ids of the station admins"`
	CreatedAt  time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt  time.Time `bson:"updated_at,omitempty" json:"updated_at,omitzero"`
}

// withEmptyLists turns the lists a document may lack (stations stored before
// the directory existed) into empty ones, so clients see [] and not null.
func (s Station) withEmptyLists() Station {
	for _, l := range []*[]string{&s.Facilities, &s.Services, &s.Photos, &s.Admins} {
		if *l == nil {
			*l = []string{}
		}
	}
	return s
}

// Errors.
var (
	ErrNotFound       = errors.New("no station with that id")
	ErrNameTaken      = errors.New("a station with that name exists already")
	ErrNotStationUser = errors.New("the account is not an enabled station admin")
)

// ValidationError says which input field is wrong and how to fix it.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// NewStation is what an admin sends to open a station. The directory
// fields are optional: the station's admins can fill them in later (Update).
type NewStation struct {
	Name       string
	Address    string
	Lat        float64
	Lng        float64
	Hours      Hours
	Facilities []string
	Services   []string
}

func (in NewStation) clean() (NewStation, error) {
	in.Name, in.Address = strings.TrimSpace(in.Name), strings.TrimSpace(in.Address)
	if n := utf8.RuneCountInString(in.Name); n == 0 || n > 60 {
		return in, &ValidationError{Field: "name", Reason: "enter a name of 1 to 60 characters"}
	}
	if utf8.RuneCountInString(in.Address) > 200 {
		return in, &ValidationError{Field: "address", Reason: "use at most 200 characters"}
	}
	if math.IsNaN(in.Lat) || in.Lat < -90 || in.Lat > 90 {
		return in, &ValidationError{Field: "lat", Reason: "latitude must be between -90 and 90"}
	}
	if math.IsNaN(in.Lng) || in.Lng < -180 || in.Lng > 180 {
		return in, &ValidationError{Field: "lng", Reason: "longitude must be between -180 and 180"}
	}
	var err error
	if in.Hours, err = in.Hours.clean(); err != nil {
		return in, err
	}
	if in.Facilities, err = cleanCodes("facilities", in.Facilities, facilityCodes); err != nil {
		return in, err
	}
	if in.Services, err = cleanCodes("services", in.Services, serviceCodes); err != nil {
		return in, err
	}
	return in, nil
}
