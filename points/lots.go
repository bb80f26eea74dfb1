package points

import "time"

// LotExpiry is when a lot received at at expires: the end of the month
// months months after at's month, in Zone (a lot of 2026-03-15 with 12
// months expires at the end of 2027-03-31, i.e. 2027-04-01 00:00 in Zone).
// Expiring at a month's end rather than to the day lets a rider remember
// one date per month and lets the expiry job run once a month per rider.
func LotExpiry(at time.Time, months int) time.Time {
	t := at.In(Zone)
	return time.Date(t.Year(), t.Month()+time.Month(months)+1, 1, 0, 0, 0, 0, Zone).UTC()
}
