package core

import (
	"github.com/billkey/billkey/store"
)

// Paged listings for operators take a limit (default 50, at most 500) and a cursor: ""
// for the first page, then the Next of the page before.
const defaultPageLimit = 50

func pageLimit(limit int) int {
	switch {
	case limit <= 0:
		return defaultPageLimit
	case limit > store.MaxPageLimit:
		return store.MaxPageLimit
	}
	return limit
}

// parseCursor reads a cursor a listing handed out.
func parseCursor(s string) (store.Cursor, *Error) {
	c, err := store.ParseCursor(s)
	if err != nil {
		return store.Cursor{}, errInvalid("the cursor is not one a listing gave")
	}
	return c, nil
}
