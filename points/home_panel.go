package points

import (
	"github.com/gofiber/fiber/v2"

	"github.com/nuanxin/nuanxin/policy"
	"github.com/nuanxin/nuanxin/web"
)

// homePanel shows a rider's points on the home page: what can be spent now,
// and what is held for rewards not yet picked up.
func (p *walletPages) homePanel(c *fiber.Ctx, l web.Lang) (*web.HomePanel, error) {
	me, ok := policy.PrincipalFrom(c.UserContext())
	if !ok || me.Kind != "rider" {
		return nil, nil
	}
	v, err := p.s.wallet(c.UserContext(), me.UserID)
	if err != nil {
		return nil, err
	}
	panel := &web.HomePanel{ID: "home-points", Title: l.T("home.points"), Stat: l.T("home.points_available", v.Available),
		More: &web.Link{Href: "/points", Label: l.T("home.points_wallet")}}
	if v.Held > 0 {
		panel.Empty = l.T("home.points_held", v.Held)
	}
	if v.InDebt {
		panel.Empty = l.T("wallet.debt", v.Balance)
	}
	return panel, nil
}
