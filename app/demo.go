package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/nuanxin/nuanxin/accounts"
	"github.com/nuanxin/nuanxin/council"
	"github.com/nuanxin/nuanxin/grid"
)

// DemoPassword is the password of every demo account: the demo is for trying
// the product on a laptop, and its logins are printed anyway.
const DemoPassword = "nuanxin-demo"

// seedDemo fills an empty product with a small living city: the Changsha
// centre grid, officers for every cell, stations with their admins, and riders.
// Running it again changes nothing that exists already.
func seedDemo(ctx context.Context, out io.Writer, acc *accounts.Service, g *grid.Service, st *council.Service) error {
	if g.Index().Len() == 0 {
		data, err := grid.MarshalFeatureCollection(grid.ChangshaDemo())
		if err != nil {
			return err
		}
		if _, err := g.Import(ctx, data, grid.Replace); err != nil {
			return err
		}
	}
	staff := func(username, name, kind string) (accounts.User, error) {
		u, err := acc.CreateStaff(ctx, accounts.StaffInput{Username: username, DisplayName: name, Password: DemoPassword, Kind: kind})
		if errors.Is(err, accounts.ErrLoginTaken) {
			return acc.ByLogin(ctx, username)
		}
		return u, err
	}
	var officers []accounts.User
	for i, name := range []string{"王芳", "李强", "张伟", "刘洋", "陈静", "杨磊"} {
		u, err := staff(fmt.Sprintf("officer%d", i+1), name, string(accounts.KindOfficer))
		if err != nil {
			return err
		}
		officers = append(officers, u)
	}
	// Each officer is primary for a block of cells and backup for the next block.
	cells := g.Cells()
	for i, c := range cells {
		if c.Assignment.Primary != nil {
			continue
		}
		p := officers[i*len(officers)/len(cells)]
		b := officers[(i*len(officers)/len(cells)+1)%len(officers)]
		if _, err := g.Assign(ctx, c.Code, p.ID, b.ID); err != nil {
			return err
		}
	}
	stations := []council.NewStation{
		{Name: "五一广场暖新驿站", Address: "芙蓉区五一大道与黄兴路交叉口", Lat: 28.1960, Lng: 112.9770,
			Hours: council.EveryDay("24h"), Facilities: []string{council.FacilitySeats, council.FacilityDrinkingWater, council.FacilityCharging,
				council.FacilityFirstAid, council.FacilityWiFi, council.FacilityMicrowave, council.FacilityToilet},
			Services: []string{council.ServiceLegalAdvice, council.ServiceMediation}},
		{Name: "橘子洲司机之家", Address: "岳麓区潇湘中路", Lat: 28.1870, Lng: 112.9600,
			Hours: council.EveryDay("07:00-22:00"), Facilities: []string{council.FacilitySeats, council.FacilityDrinkingWater,
				council.FacilityCharging, council.FacilityToilet, council.FacilityCanteen},
			Services: []string{council.ServiceSocialInsurance}},
		{Name: "长沙火车站暖新驿站", Address: "芙蓉区车站北路", Lat: 28.1950, Lng: 113.0100,
			Hours: council.EveryDay("06:00-23:30"), Facilities: []string{council.FacilitySeats, council.FacilityDrinkingWater,
				council.FacilityCharging, council.FacilityFirstAid, council.FacilityHealthCorner},
			Services: []string{council.ServiceSkillsClasses}},
	}
	existing, err := st.List(ctx)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, s := range existing {
		have[s.Name] = true
	}
	for i, in := range stations {
		admin, err := staff(fmt.Sprintf("station%d", i+1), fmt.Sprintf("驿站管理员%d", i+1), string(accounts.KindStationAdmin))
		if err != nil {
			return err
		}
		if have[in.Name] {
			continue
		}
		s, err := st.Create(ctx, in)
		if err != nil {
			return err
		}
		if _, err := st.AddAdmin(ctx, s.ID, admin.ID); err != nil {
			return err
		}
	}
	riders := []accounts.RegisterInput{
		{Phone: "13800138001", DisplayName: "骑手小赵", Work: string(accounts.WorkFoodDelivery)},
		{Phone: "13800138002", DisplayName: "快递员小钱", Work: string(accounts.WorkCourier)},
		{Phone: "13800138003", DisplayName: "网约车司机老孙", Work: string(accounts.WorkRideHailing)},
		{Phone: "13800138004", DisplayName: "跑腿小李", Work: string(accounts.WorkOther)},
	}
	for _, r := range riders {
		// The demo riders stand for people who registered through the
		// form, which asks for this consent.
		r.Password, r.AcceptPrivacy = DemoPassword, true
		if _, err := acc.Register(ctx, r); err != nil && !errors.Is(err, accounts.ErrLoginTaken) {
			return err
		}
	}

	tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintf(tw, "\nDemo city: %d grid cells over central Changsha, %d stations. Every demo login's password: %s\n", g.Index().Len(), len(stations), DemoPassword)
	fmt.Fprintln(tw, "LOGIN\tROLE\tNAME")
	for i, o := range officers {
		fmt.Fprintf(tw, "officer%d\tofficer (%d cells)\t%s\n", i+1, len(g.CellsOf(o.ID)), o.DisplayName)
	}
	for i := range stations {
		fmt.Fprintf(tw, "station%d\tstation_admin\t%s\n", i+1, stations[i].Name)
	}
	for _, r := range riders {
		fmt.Fprintf(tw, "%s\trider\t%s\n", r.Phone, r.DisplayName)
	}
	fmt.Fprintln(tw, "admin\tadmin\t(password from NUANXIN_ADMIN_PASSWORD or the log of the first start)")
	return tw.Flush()
}
