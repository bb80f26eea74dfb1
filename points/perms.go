package points

import "github.com/nuanxin/nuanxin/policy"

// Permissions of the points routes (policy/policy.csv grants them).
const (
	PermWallet      policy.Permission = "points:read"    // a rider's own wallet, statement and codes
	PermShelf       policy.Permission = "reward:list"    // the rewards shelf
	PermRedeem      policy.Permission = "reward:redeem"  // reserve a reward, cancel one's own code
	PermShelfManage policy.Permission = "reward:manage"  // a station's shelf (station:<id>); the city's (admin)
	PermConfirm     policy.Permission = "reward:confirm" // confirm pickups at a station (station:<id>)
	PermCityShelf   policy.Permission = "reward:city"    // the city-wide shelf's pages (admins)
	PermHonour      policy.Permission = "honour:read"    // leaderboards and the notice board (public)
	PermAdjust      policy.Permission = "points:adjust"  // propose and approve manual adjustments
	PermAudit       policy.Permission = "points:audit"   // earning rules, reconciliation, exports
)
