package sqlstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/billkey/billkey/store"
)

// A charge's notes are kept in its row as a JSON array of {"at", "text"} objects, oldest
// first (jsonb on PostgreSQL, TEXT on SQLite). store.AppendNote cuts them when a charge
// is created; UpdateCharge appends one and drops the oldest in the UPDATE itself, so a
// row never holds more than store.MaxNotes.

// noteJSON is one note as stored: at is RFC 3339 in UTC with microseconds, "" for the
// zero time.
type noteJSON struct {
	At   string `json:"at,omitempty"`
	Text string `json:"text"`
}

func toNoteJSON(n store.Note) noteJSON {
	j := noteJSON{Text: n.Text}
	if !n.At.IsZero() {
		j.At = n.At.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
	}
	return j
}

// notesArg is the JSON array of notes, cut by store.AppendNote.
func notesArg(notes []store.Note) (string, error) {
	cut := store.AppendNote(nil, notes...)
	out := make([]noteJSON, len(cut))
	for i, n := range cut {
		out[i] = toNoteJSON(n)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// noteAppend is the SET expression that appends n (cut by store.AppendNote) to a
// charge's notes, keeping the newest store.MaxNotes, and its argument.
func (s *Store) noteAppend(n store.Note) (string, any, error) {
	b, err := json.Marshal(toNoteJSON(store.AppendNote(nil, n)[0]))
	if err != nil {
		return "", nil, err
	}
	if s.dialect == Postgres {
		return "notes = jsonb_path_query_array(notes || jsonb_build_array(CAST(? AS jsonb)), 'lax $[last - " +
			strconv.Itoa(store.MaxNotes-1) + " to last]')", string(b), nil
	}
	// SQLite's JSON functions cannot slice an array: the row holds at most MaxNotes (every
	// write goes through here or notesArg), so dropping the first one when it is full
	// keeps the bound.
	return "notes = json_insert(CASE WHEN json_array_length(notes) >= " + strconv.Itoa(store.MaxNotes) +
		" THEN json_remove(notes, '$[0]') ELSE notes END, '$[#]', json(?))", string(b), nil
}

// noteCol scans a notes column into a charge's Notes; an empty array is nil.
type noteCol struct{ notes *[]store.Note }

// Scan implements sql.Scanner.
func (c noteCol) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case nil:
		*c.notes = nil
		return nil
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into notes", src)
	}
	var js []noteJSON
	if err := json.Unmarshal(raw, &js); err != nil {
		return fmt.Errorf("sqlstore: notes: %w", err)
	}
	if len(js) == 0 {
		*c.notes = nil
		return nil
	}
	notes := make([]store.Note, len(js))
	for i, j := range js {
		notes[i].Text = j.Text
		if j.At == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, j.At)
		if err != nil {
			return fmt.Errorf("sqlstore: notes: %w", err)
		}
		notes[i].At = at.UTC()
	}
	*c.notes = notes
	return nil
}
