package council

import "github.com/nuanxin/nuanxin/policy"

// Permissions of the council routes (policy/policy.csv grants them). Those
// marked "station domain" are held by station admins in their station's
// domain (policy.StationDomain) only: a handler checks them there with
// Gate.Check, because the route's own check passes for an admin of any
// station. Membership (who may post, support and vote where) is decided by
// the council services, not the policy: the roll and the home station are
// data, not roles.
const (
	PermCouncilRead   policy.Permission = "council:read"     // station pages, feedback pool, proposals, results
	PermJoin          policy.Permission = "council:join"     // join or leave a home council (riders)
	PermCheckIn       policy.Permission = "station:checkin"  // check in at a station by its poster (riders)
	PermPost          policy.Permission = "feedback:post"    // post an item in one's home council (riders)
	PermSupport       policy.Permission = "feedback:support" // support another member's item (riders)
	PermVote          policy.Permission = "vote:cast"        // vote on a proposal one is on the roll of (riders)
	PermAnswer        policy.Permission = "feedback:answer"  // review, answer, decline, adopt items (station domain)
	PermProposals     policy.Permission = "proposal:manage"  // put, edit, open proposals; record outcomes (station domain)
	PermMembers       policy.Permission = "council:manage"   // the member list with removal (station domain)
	PermFigures       policy.Permission = "station:figures"  // visit figures (station domain; admins across stations)
	PermPoster        policy.Permission = "station:poster"   // the printable check-in poster (station domain)
	PermStationsAdmin policy.Permission = "station:admin"    // the stations admin page (admins)
)
