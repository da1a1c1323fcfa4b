package iamporttest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// The state file (WithStateFile): one JSON document holding what a restarted fake needs
// to go on as before. It is rewritten after every change, by writing a temporary file
// beside it and renaming it over the old one, so a crash leaves the old or the new state,
// never half of one.

const stateVersion = 1

// stateFile is where the state goes, and how far writing it has got.
type stateFile struct {
	path string
	gen  uint64 // generation of the latest snapshot (guarded by Fake.mu)

	mu      sync.Mutex // serialises writes
	written uint64     // generation on disk
	err     error      // outcome of the last write
}

type savedState struct {
	Version   int             `json:"version"`
	Clock     savedClock      `json:"clock"`
	Seq       int64           `json:"seq"`
	Payments  []savedPayment  `json:"payments"`
	Customers []savedCustomer `json:"customers"`
	Schedules []savedSchedule `json:"schedules"`
}

type savedClock struct {
	Real   bool          `json:"real"`
	At     time.Time     `json:"at,omitzero"`     // frozen clock
	Offset time.Duration `json:"offset,omitzero"` // real clock
}

type savedPayment struct {
	Payment    payment `json:"payment"`
	Amount     int64   `json:"amount"`                // the whole amount the fake books
	AmountJSON string  `json:"amount_json,omitempty"` // SetAmountJSON
	Seq        int64   `json:"seq"`
	NoticeURL  string  `json:"notice_url,omitempty"`
	Updated    int64   `json:"updated"`
	Sandbox    bool    `json:"sandbox"`
}

type savedCustomer struct {
	Customer customer `json:"customer"`
	Card     string   `json:"card"` // the test card's digits
	Charges  int      `json:"charges"`
	Sandbox  bool     `json:"sandbox"`
}

type savedSchedule struct {
	Schedule schedule    `json:"schedule"`
	Seq      int64       `json:"seq"`
	Charge   savedCharge `json:"charge"`
}

type savedCharge struct {
	MerchantUID   string `json:"merchant_uid"`
	Amount        int64  `json:"amount"`
	Name          string `json:"name"`
	Currency      string `json:"currency"`
	BuyerName     string `json:"buyer_name,omitempty"`
	BuyerEmail    string `json:"buyer_email,omitempty"`
	BuyerTel      string `json:"buyer_tel,omitempty"`
	BuyerAddr     string `json:"buyer_addr,omitempty"`
	BuyerPostcode string `json:"buyer_postcode,omitempty"`
	CustomData    string `json:"custom_data,omitempty"`
	CardQuota     int    `json:"card_quota,omitempty"`
	NoticeURL     string `json:"notice_url,omitempty"`
}

func (c chargeSpec) saved() savedCharge {
	return savedCharge{c.merchantUID, c.amount, c.name, c.currency, c.buyerName, c.buyerEmail,
		c.buyerTel, c.buyerAddr, c.buyerPostcode, c.customData, c.cardQuota, c.noticeURL}
}

func (s savedCharge) spec() chargeSpec {
	return chargeSpec{s.MerchantUID, s.Amount, s.Name, s.Currency, s.BuyerName, s.BuyerEmail,
		s.BuyerTel, s.BuyerAddr, s.BuyerPostcode, s.CustomData, s.CardQuota, s.NoticeURL}
}

// StateError is the error of the last write of the state file, nil when it succeeded or
// there is no state file. Writes happen after every change; a failed one is retried at
// the next change.
func (f *Fake) StateError() error {
	if f.state == nil {
		return nil
	}
	f.state.mu.Lock()
	defer f.state.mu.Unlock()
	return f.state.err
}

// changed writes the state file after a change of the fake's state (a no-op without
// WithStateFile). It must be called without f.mu held.
func (f *Fake) changed() {
	st := f.state
	if st == nil {
		return
	}
	f.mu.Lock()
	st.gen++
	gen := st.gen
	data, err := json.Marshal(f.snapshotLocked())
	f.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if gen <= st.written {
		return // a newer snapshot is on disk already
	}
	if err == nil {
		err = writeAtomically(st.path, data)
	}
	if err != nil {
		st.err = fmt.Errorf("iamporttest: writing the state file: %w", err)
		return
	}
	st.written, st.err = gen, nil
}

// writeAtomically replaces path with data: a temporary file in the same directory, synced,
// then renamed over path.
func writeAtomically(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// snapshotLocked is the state to save, in creation order.
func (f *Fake) snapshotLocked() savedState {
	s := savedState{
		Version:   stateVersion,
		Clock:     savedClock{Real: f.clock.real, At: f.clock.at, Offset: f.clock.offset},
		Seq:       f.seq,
		Payments:  make([]savedPayment, 0, len(f.byImpUID)),
		Customers: make([]savedCustomer, 0, len(f.customers)),
		Schedules: make([]savedSchedule, 0, len(f.schedules)),
	}
	for _, rec := range f.byImpUID {
		s.Payments = append(s.Payments, savedPayment{
			Payment: rec.p, Amount: rec.p.Amount.v, AmountJSON: rec.p.Amount.text,
			Seq: rec.seq, NoticeURL: rec.noticeURL, Updated: rec.updated, Sandbox: rec.sandbox,
		})
	}
	slices.SortFunc(s.Payments, func(a, b savedPayment) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, rec := range f.customers {
		s.Customers = append(s.Customers, savedCustomer{Customer: rec.c, Card: rec.card.digits, Charges: rec.charges, Sandbox: rec.sandbox})
	}
	slices.SortFunc(s.Customers, func(a, b savedCustomer) int { return cmp.Compare(a.Customer.CustomerUID, b.Customer.CustomerUID) })
	for _, rec := range f.schedules {
		s.Schedules = append(s.Schedules, savedSchedule{Schedule: rec.r, Seq: rec.seq, Charge: rec.c.saved()})
	}
	slices.SortFunc(s.Schedules, func(a, b savedSchedule) int { return cmp.Compare(a.Seq, b.Seq) })
	return s
}

// loadState reads the state file into a new fake; a missing file leaves it empty.
func (f *Fake) loadState() error {
	data, err := os.ReadFile(f.state.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("iamporttest: reading the state file: %w", err)
	}
	var s savedState
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("iamporttest: the state file %s is not a saved fake state: %w", f.state.path, err)
	}
	if s.Version != stateVersion {
		return fmt.Errorf("iamporttest: the state file %s has version %d; this fake reads version %d", f.state.path, s.Version, stateVersion)
	}
	f.restoreClock(s.Clock)
	f.seq = s.Seq
	for _, sp := range s.Payments {
		p := sp.Payment
		if p.ImpUID == "" {
			return fmt.Errorf("iamporttest: the state file %s has a payment without imp_uid", f.state.path)
		}
		p.Sandbox = nil
		p.Amount = won{v: sp.Amount, text: sp.AmountJSON}
		p.CancelHistory = cloneList(p.CancelHistory)
		p.DepositHistory = cloneList(p.DepositHistory)
		p.CancelReceiptURLs = cloneList(p.CancelReceiptURLs)
		rec := &payRec{p: p, seq: sp.Seq, noticeURL: sp.NoticeURL, updated: sp.Updated, sandbox: sp.Sandbox}
		f.byImpUID[p.ImpUID] = rec
		f.byMerchant[p.MerchantUID] = append(f.byMerchant[p.MerchantUID], rec) // saved in creation order
		f.seq = max(f.seq, sp.Seq)
	}
	for _, sc := range s.Customers {
		c := sc.Customer
		c.Sandbox = nil
		f.customers[c.CustomerUID] = &custRec{c: c, card: parseCard(sc.Card), charges: sc.Charges, sandbox: sc.Sandbox}
	}
	for _, ss := range s.Schedules {
		f.schedules[ss.Schedule.MerchantUID] = &schedRec{r: ss.Schedule, seq: ss.Seq, c: ss.Charge.spec()}
		f.seq = max(f.seq, ss.Seq)
	}
	return nil
}

// restoreClock carries the saved clock over, never moving a clock backwards into a mode
// that cannot show it: a real clock keeps its offset; a frozen one its time.
func (f *Fake) restoreClock(c savedClock) {
	switch {
	case f.clock.real && c.Real:
		f.clock.offset = c.Offset
	case f.clock.real:
		f.clock.offset = max(time.Until(c.At), 0)
	case c.Real:
		f.clock.at = time.Now().Add(c.Offset)
	default:
		f.clock.at = c.At
	}
}
