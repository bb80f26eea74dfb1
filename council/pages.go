package council

import "github.com/nuanxin/nuanxin/web"

// MountPages adds the council's pages to the page kit: the riders' (stations,
// check-in, the feedback pool, proposals and their ballots) and the station
// admins' and admins' (a station's council desk, the stations admin page).
func MountPages(k *web.Pages, h *Hub) error {
	if err := web.Require("council: pages", map[string]bool{"Pages": k == nil, "Hub": h == nil}); err != nil {
		return err
	}
	if err := mountRiderPages(k, h); err != nil {
		return err
	}
	return mountAdminPages(k, h)
}
