package grid

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/nuanxin/nuanxin/policy"
)

// Permissions used by the grid routes.
const (
	PermRead   policy.Permission = "grid:read"
	PermImport policy.Permission = "grid:import"
	PermAssign policy.Permission = "grid:assign"
)

// MaxImportBytes bounds an uploaded map.
const MaxImportBytes = 32 << 20

// Routes mounts the grid API.
func Routes(api huma.API, gate *policy.Gate, svc *Service, log *slog.Logger) {
	h := &handlers{svc: svc, log: log}
	policy.Register(api, gate, PermImport, huma.Operation{
		OperationID: "import-grid", Method: http.MethodPost, Path: "/api/v1/grid/import", Tags: []string{"grid"},
		Summary:      "Import a GeoJSON FeatureCollection of grid cells",
		Description:  "Polygon or MultiPolygon features with properties code, name and district, in WGS-84 [lng, lat]. mode=replace makes the file the whole map; mode=merge adds or replaces cells by code. Any invalid feature rejects the whole file (422) with each feature's index and reason.",
		MaxBodyBytes: MaxImportBytes, Errors: []int{400, 413, 422},
	}, h.importMap)
	policy.Register(api, gate, PermRead, huma.Operation{
		OperationID: "list-cells", Method: http.MethodGet, Path: "/api/v1/grid/cells", Tags: []string{"grid"},
		Summary: "The grid map: every cell with its officers",
	}, h.list)
	policy.Register(api, gate, PermRead, huma.Operation{
		OperationID: "get-cell", Method: http.MethodGet, Path: "/api/v1/grid/cells/{code}", Tags: []string{"grid"},
		Summary: "One cell with its officers", Errors: []int{404},
	}, h.get)
	policy.Register(api, gate, PermRead, huma.Operation{
		OperationID: "locate", Method: http.MethodGet, Path: "/api/v1/grid/locate", Tags: []string{"grid"},
		Summary: "The cell that contains a point", Errors: []int{422},
	}, h.locate)
	policy.Register(api, gate, PermAssign, huma.Operation{
		OperationID: "assign-officers", Method: http.MethodPut, Path: "/api/v1/grid/cells/{code}/officers", Tags: []string{"grid"},
		Summary: "Set a cell's primary and backup officer", Errors: []int{404, 422},
	}, h.assign)
	policy.Register(api, gate, PermAssign, huma.Operation{
		OperationID: "assign-officers-bulk", Method: http.MethodPost, Path: "/api/v1/grid/assign", Tags: []string{"grid"},
		Summary: "Give many cells the same primary and backup officer",
		Description: "Everything is checked first (at least one cell, every cell on the map, the officers enabled officer accounts, the primary not also the backup); " +
			"any problem answers 422 with one detail per problem and nothing is written. Then the cells are assigned one by one. " +
			"If the store fails part-way, the answer is 503 with one detail per cell saying whether it was assigned; sending the same request again finishes the job.",
		Errors: []int{422, 503},
	}, h.assignMany)
}

type handlers struct {
	svc *Service
	log *slog.Logger
}

type importInput struct {
	Mode    string `query:"mode" enum:"replace,merge" default:"merge" doc:"replace: the file becomes the whole map; merge: add or replace cells by code"`
	RawBody []byte `contentType:"application/geo+json"`
}

type importOutput struct {
	Body ImportResult
}

func (h *handlers) importMap(ctx context.Context, in *importInput) (*importOutput, error) {
	res, err := h.svc.Import(ctx, in.RawBody, Mode(in.Mode))
	if err != nil {
		return nil, h.problem(err)
	}
	return &importOutput{Body: res}, nil
}

// CellJSON is a cell as the API shows it.
type CellJSON struct {
	Code     string      `json:"code"`
	Name     string      `json:"name"`
	District string      `json:"district"`
	Bounds   [4]float64  `json:"bbox" doc:"[min lng, min lat, max lng, max lat]"`
	Geometry [][][]Point `json:"coordinates" doc:"MultiPolygon coordinates, GeoJSON order"`
	Primary  *OfficerRef `json:"primary,omitempty"`
	Backup   *OfficerRef `json:"backup,omitempty"`
}

// Point is a [lng, lat] position.
type Point [2]float64

func toJSON(v CellView) CellJSON {
	b := v.Cell.Bound()
	out := CellJSON{Code: v.Code, Name: v.Name, District: v.District, Primary: v.Assignment.Primary, Backup: v.Assignment.Backup,
		Bounds: [4]float64{b.Min.Lon(), b.Min.Lat(), b.Max.Lon(), b.Max.Lat()}}
	for _, poly := range v.Geometry {
		var rings [][]Point
		for _, r := range poly {
			pts := make([]Point, len(r))
			for i, p := range r {
				pts[i] = Point(p)
			}
			rings = append(rings, pts)
		}
		out.Geometry = append(out.Geometry, rings)
	}
	return out
}

type cellsOutput struct {
	Body struct {
		Cells []CellJSON `json:"cells"`
	}
}

func (h *handlers) list(ctx context.Context, _ *struct{}) (*cellsOutput, error) {
	views := h.svc.Cells()
	out := &cellsOutput{}
	out.Body.Cells = make([]CellJSON, len(views))
	for i, v := range views {
		out.Body.Cells[i] = toJSON(v)
	}
	return out, nil
}

type codeInput struct {
	Code string `path:"code" maxLength:"64"`
}

type cellOutput struct {
	Body CellJSON
}

func (h *handlers) get(ctx context.Context, in *codeInput) (*cellOutput, error) {
	v, err := h.svc.Cell(in.Code)
	if err != nil {
		return nil, h.problem(err)
	}
	return &cellOutput{Body: toJSON(v)}, nil
}

type locateInput struct {
	Lat float64 `query:"lat" required:"true" minimum:"-90" maximum:"90"`
	Lng float64 `query:"lng" required:"true" minimum:"-180" maximum:"180"`
}

type locateOutput struct {
	Body struct {
		Assigned bool   `json:"assigned" doc:"false: the point is in no cell and goes to the admin queue"`
		Code     string `json:"code,omitempty"`
		Name     string `json:"name,omitempty"`
	}
}

func (h *handlers) locate(ctx context.Context, in *locateInput) (*locateOutput, error) {
	if math.IsNaN(in.Lat) || math.IsNaN(in.Lng) {
		return nil, huma.Error422UnprocessableEntity("lat and lng must be numbers")
	}
	out := &locateOutput{}
	if c, ok := h.svc.Locate(in.Lat, in.Lng); ok {
		out.Body.Assigned, out.Body.Code, out.Body.Name = true, c.Code, c.Name
	}
	return out, nil
}

type assignInput struct {
	Code string `path:"code" maxLength:"64"`
	Body struct {
		PrimaryID string `json:"primary_id" maxLength:"64" doc:"Account id of the primary officer"`
		BackupID  string `json:"backup_id,omitempty" maxLength:"64" doc:"Account id of the backup officer (optional)"`
	}
}

type assignOutput struct {
	Body Assignment
}

func (h *handlers) assign(ctx context.Context, in *assignInput) (*assignOutput, error) {
	a, err := h.svc.Assign(ctx, in.Code, in.Body.PrimaryID, in.Body.BackupID)
	if err != nil {
		return nil, h.problem(err)
	}
	return &assignOutput{Body: a}, nil
}

type assignManyInput struct {
	Body struct {
		Cells      []string `json:"cells" maxItems:"2000" doc:"Codes of the cells to assign"`
		PrimaryID  string   `json:"primary_id" maxLength:"64" doc:"Account id of the primary officer"`
		BackupID   string   `json:"backup_id,omitempty" maxLength:"64" doc:"Account id of the backup officer; empty for no backup"`
		KeepBackup bool     `json:"keep_backup,omitempty" doc:"Keep each cell's backup officer instead of setting backup_id"`
	}
}

type assignManyOutput struct {
	Body struct {
		Assigned []Assignment `json:"assigned" doc:"The cells assigned, in the order asked"`
	}
}

func (h *handlers) assignMany(ctx context.Context, in *assignManyInput) (*assignManyOutput, error) {
	done, err := h.svc.AssignMany(ctx, BulkAssignment{Cells: in.Body.Cells, PrimaryID: in.Body.PrimaryID, BackupID: in.Body.BackupID, KeepBackup: in.Body.KeepBackup})
	if err != nil {
		return nil, h.problem(err)
	}
	out := &assignManyOutput{}
	out.Body.Assigned = done
	return out, nil
}

// problem is the one place grid errors become HTTP statuses.
func (h *handlers) problem(err error) error {
	var ie *ImportError
	var fe *FieldError
	var be *BulkError
	var inc *IncompleteError
	switch {
	case errors.As(err, &be):
		details := make([]error, 0, len(be.Problems)+1)
		for _, p := range be.Problems {
			loc := "body." + p.Field
			if p.Index >= 0 {
				loc = fmt.Sprintf("body.cells[%d]", p.Index)
			}
			details = append(details, &huma.ErrorDetail{Location: loc, Value: p.Cell, Message: p.String()})
		}
		if be.More > 0 {
			details = append(details, &huma.ErrorDetail{Location: "body", Message: fmt.Sprintf("and %d more problems", be.More)})
		}
		return huma.Error422UnprocessableEntity("Nothing was assigned: fix these problems and send the request again.", details...)
	case errors.As(err, &inc):
		details := make([]error, 0, len(inc.Assigned)+len(inc.NotAssigned))
		for _, c := range inc.Assigned {
			details = append(details, &huma.ErrorDetail{Location: "body.cells", Value: c, Message: "cell " + c + " was assigned"})
		}
		for _, c := range inc.NotAssigned {
			details = append(details, &huma.ErrorDetail{Location: "body.cells", Value: c, Message: "cell " + c + " was not assigned"})
		}
		return huma.Error503ServiceUnavailable(fmt.Sprintf("The store failed part-way: %d cells were assigned, %d were not. Send the same request again to finish.", len(inc.Assigned), len(inc.NotAssigned)), details...)
	case errors.As(err, &ie):
		details := make([]error, 0, len(ie.Problems))
		for _, p := range ie.Problems {
			loc := "body"
			if p.Index >= 0 {
				loc = fmt.Sprintf("body.features[%d]", p.Index)
			}
			details = append(details, &huma.ErrorDetail{Location: loc, Message: p.Error()})
		}
		return huma.Error422UnprocessableEntity("The map was not imported: "+ie.Error(), details...)
	case errors.As(err, &fe):
		return huma.Error422UnprocessableEntity(fe.Error(), &huma.ErrorDetail{Location: "body." + fe.Field, Message: fe.Reason})
	case errors.Is(err, ErrCellNotFound):
		return huma.Error404NotFound("There is no grid cell with that code.")
	case errors.Is(err, ErrSameOfficer), errors.Is(err, errBadMode):
		return huma.Error422UnprocessableEntity(err.Error())
	}
	h.log.Error("grid", "err", err)
	return huma.Error500InternalServerError("Something went wrong on our side; please try again.")
}
