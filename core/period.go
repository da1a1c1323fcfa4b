package core

import "time"

// Period is the length of a billing period or a trial: a number of months or a number of
// days (exactly one of the two). Monthly is {Months: 1}, yearly {Months: 12}, weekly
// {Days: 7}. The zero Period is none: a plan without one is a one-off price, not a
// subscription.
type Period struct {
	Months int
	Days   int
}

// IsZero reports whether p is no period at all.
func (p Period) IsZero() bool { return p.Months == 0 && p.Days == 0 }

func (p Period) valid() bool {
	return p.Months >= 0 && p.Days >= 0 && (p.Months == 0) != (p.Days == 0) && p.Months <= 120 && p.Days <= 3660
}

// kst is Korea Standard Time, which has kept UTC+9 without daylight saving since 1988:
// the default location of billing periods, needing no time zone database.
var kst = time.FixedZone("KST", 9*60*60)

// periodEnd is the end of the period that starts at start, for a subscription anchored
// at anchor, in loc. Months keep the anchor's day of the month and time of day, clamped
// to the month's last day, and are counted again from the anchor's day each time, so a
// subscription started on January 31 renews on February 28 (29 in a leap year), then
// March 31 and April 30. Days are calendar days in loc.
func periodEnd(start, anchor time.Time, p Period, loc *time.Location) time.Time {
	s := start.In(loc)
	if p.Days > 0 {
		return s.AddDate(0, 0, p.Days).UTC()
	}
	a := anchor.In(loc)
	y, m := s.Year(), s.Month()+time.Month(p.Months)
	first := time.Date(y, m, 1, 0, 0, 0, 0, loc) // normalizes months past December
	day := min(a.Day(), daysIn(first.Year(), first.Month(), loc))
	h, mi, sec := a.Clock()
	return time.Date(first.Year(), first.Month(), day, h, mi, sec, a.Nanosecond(), loc).UTC()
}

// daysIn is the number of days of a month.
func daysIn(y int, m time.Month, loc *time.Location) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, loc).Day()
}

// trialEnd is when a trial of length p that starts at start ends, in loc.
func trialEnd(start time.Time, p Period, loc *time.Location) time.Time {
	return periodEnd(start, start, p, loc)
}
