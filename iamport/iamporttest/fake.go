package iamporttest

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/billkey/billkey/iamport"
)

// Credentials and merchant code the fake accepts by default.
const (
	Key          = "test_imp_key"
	Secret       = "test_imp_secret"
	MerchantCode = "imp00000000"
)

// Endpoint names a fake API endpoint for faults and counters.
type Endpoint string

// Endpoints.
const (
	EPGetToken       Endpoint = "getToken"       // POST /users/getToken
	EPAgain          Endpoint = "again"          // POST /subscribe/payments/again
	EPGetCustomer    Endpoint = "getCustomer"    // GET /subscribe/customers/{customer_uid}
	EPDeleteCustomer Endpoint = "deleteCustomer" // DELETE /subscribe/customers/{customer_uid}
	EPGetPayment     Endpoint = "getPayment"     // GET /payments/{imp_uid}
	EPFindPayment    Endpoint = "findPayment"    // GET /payments/find/{merchant_uid}[/{status}]
	EPFindAll        Endpoint = "findAll"        // GET /payments/findAll/{merchant_uid}[/{status}]
	EPCancel         Endpoint = "cancel"         // POST /payments/cancel
	EPSchedule       Endpoint = "schedule"       // POST /subscribe/payments/schedule
	EPUnschedule     Endpoint = "unschedule"     // POST /subscribe/payments/unschedule
	EPGetSchedule    Endpoint = "getSchedule"    // GET /subscribe/payments/schedule/{merchant_uid}
)

// Fake is the in-memory iamport: its state, its clock and its HTTP handler. All methods are
// safe for concurrent use.
type Fake struct {
	mu             sync.Mutex
	key, secret    string
	sandbox        bool
	legacyNotFound bool
	tokenLifetime  time.Duration
	now            time.Time
	baseURL        string // absolute base of a listening Server; "" for a bare Fake

	token    string
	tokenExp time.Time

	byImpUID   map[string]*payRec
	byMerchant map[string][]*payRec // creation order within a merchant_uid
	customers  map[string]*custRec
	schedules  map[string]*schedRec
	seq        int64

	faults map[Endpoint][]Fault
	counts map[Endpoint]int
	calls  []Call

	done      chan struct{} // closed by Close: ends latencies and stalls
	closeOnce sync.Once

	hooks *webhooks
}

// payRec is a stored payment plus what iamport keeps beside it.
type payRec struct {
	p         iamport.Payment
	seq       int64
	noticeURL string
	updated   iamport.Timestamp
}

// custRec is a stored billing key: the public Customer and the test card behind it.
type custRec struct {
	c       iamport.Customer
	card    testCard
	charges int // paid charges made with this key
}

// schedRec is a scheduled payment with the request fields the result does not show.
type schedRec struct {
	r   iamport.ScheduleResult
	seq int64
	c   chargeSpec
}

// New returns a fake that is not listening; mount Handler() where you like. Call Close when
// done if it sends webhooks, so no delivery outlives the test.
func New(opts ...Option) *Fake {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	f := &Fake{
		key:            o.key,
		secret:         o.secret,
		sandbox:        o.sandbox,
		legacyNotFound: o.legacyNotFound,
		tokenLifetime:  o.tokenLifetime,
		now:            o.clock,
		byImpUID:       make(map[string]*payRec),
		byMerchant:     make(map[string][]*payRec),
		customers:      make(map[string]*custRec),
		schedules:      make(map[string]*schedRec),
		faults:         make(map[Endpoint][]Fault),
		counts:         make(map[Endpoint]int),
		done:           make(chan struct{}),
	}
	f.hooks = newWebhooks(o.webhook)
	return f
}

// Close stops webhook delivery and waits for deliveries in flight; notifications not yet
// sent are logged with an error. It also releases requests held by Latency or Stall faults.
// The handler keeps answering API calls after Close. Close is idempotent.
func (f *Fake) Close() {
	f.closeOnce.Do(func() { close(f.done) })
	f.hooks.close()
}

// Now returns the fake clock's time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the fake clock forward by d and runs the schedules that have become due, in
// order of schedule_at. A negative d does nothing.
func (f *Fake) Advance(d time.Duration) {
	if d < 0 {
		return
	}
	f.mu.Lock()
	f.now = f.now.Add(d)
	notes := f.runDueSchedulesLocked()
	f.mu.Unlock()
	f.notify(notes)
}

// Payment returns a copy of the payment stored under impUID, sandbox or not.
func (f *Fake) Payment(impUID string) (iamport.Payment, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.byImpUID[impUID]
	if !ok {
		return iamport.Payment{}, false
	}
	return clonePayment(rec.p), true
}

// PaymentsByMerchantUID returns copies of every payment with merchantUID, oldest first.
func (f *Fake) PaymentsByMerchantUID(merchantUID string) []iamport.Payment {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []iamport.Payment
	for _, rec := range f.byMerchant[merchantUID] {
		out = append(out, clonePayment(rec.p))
	}
	return out
}

// PutPayment replaces the payment with p.ImpUID, or inserts p when there is none (an empty
// ImpUID gets a fresh one). The payment is stored as given: tests use it to make the fake
// answer mismatched amounts, statuses, merchant_uids and so on.
func (f *Fake) PutPayment(p iamport.Payment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p = clonePayment(p)
	if p.ImpUID == "" {
		p.ImpUID = f.newImpUIDLocked()
	}
	if rec, ok := f.byImpUID[p.ImpUID]; ok {
		if rec.p.MerchantUID != p.MerchantUID {
			f.unindexLocked(rec)
			rec.p = p
			f.indexLocked(rec)
		}
		rec.p = p
		rec.updated = iamport.Timestamp(f.now.Unix())
		return
	}
	f.seq++
	rec := &payRec{p: p, seq: f.seq, updated: iamport.Timestamp(f.now.Unix())}
	f.byImpUID[p.ImpUID] = rec
	f.indexLocked(rec)
}

// indexLocked adds rec to the merchant_uid index, keeping creation order.
func (f *Fake) indexLocked(rec *payRec) {
	list := f.byMerchant[rec.p.MerchantUID]
	i, _ := slices.BinarySearchFunc(list, rec.seq, func(r *payRec, seq int64) int { return cmp.Compare(r.seq, seq) })
	f.byMerchant[rec.p.MerchantUID] = slices.Insert(list, i, rec)
}

// unindexLocked removes rec from the merchant_uid index.
func (f *Fake) unindexLocked(rec *payRec) {
	m := rec.p.MerchantUID
	list := slices.DeleteFunc(f.byMerchant[m], func(r *payRec) bool { return r == rec })
	if len(list) == 0 {
		delete(f.byMerchant, m)
	} else {
		f.byMerchant[m] = list
	}
}

// Customer returns a copy of the billing key registered under customerUID.
func (f *Fake) Customer(customerUID string) (iamport.Customer, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.customers[customerUID]
	if !ok {
		return iamport.Customer{}, false
	}
	return cloneCustomer(rec.c), true
}

// DeleteCustomerKey removes the billing key under customerUID without an API call, as if it
// had been deleted from the console. It reports whether there was one.
func (f *Fake) DeleteCustomerKey(customerUID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.customers[customerUID]
	delete(f.customers, customerUID)
	return ok
}

// Schedule returns a copy of the scheduled payment registered under merchantUID.
func (f *Fake) Schedule(merchantUID string) (iamport.ScheduleResult, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.schedules[merchantUID]
	if !ok {
		return iamport.ScheduleResult{}, false
	}
	return rec.r, true
}

// CancelFromConsole cancels a payment as the merchant console would (amount 0 = full, or
// the rest after earlier partial cancels), sending a "cancelled" notification.
func (f *Fake) CancelFromConsole(impUID string, amount int64, reason string) (iamport.Payment, error) {
	f.mu.Lock()
	rec, ok := f.byImpUID[impUID]
	if !ok {
		f.mu.Unlock()
		return iamport.Payment{}, errors.New("iamporttest: CancelFromConsole: no payment with that imp_uid")
	}
	c, err := f.cancelLocked(rec, amount, nil, reason, f.baseURL)
	if err != nil {
		f.mu.Unlock()
		return iamport.Payment{}, errors.New("iamporttest: CancelFromConsole: " + err.Error())
	}
	p := clonePayment(rec.p)
	note := f.noteLocked(rec, string(iamport.StatusCancelled), c.CancellationID)
	f.mu.Unlock()
	f.notify([]hookNote{note})
	return p, nil
}

// setBase records the absolute base URL used for receipt URLs made outside a request.
func (f *Fake) setBase(u string) {
	f.mu.Lock()
	f.baseURL = u
	f.mu.Unlock()
}

// storeLocked records a new payment.
func (f *Fake) storeLocked(p iamport.Payment, noticeURL string) *payRec {
	f.seq++
	rec := &payRec{p: p, seq: f.seq, noticeURL: noticeURL, updated: iamport.Timestamp(f.now.Unix())}
	f.byImpUID[p.ImpUID] = rec
	f.byMerchant[p.MerchantUID] = append(f.byMerchant[p.MerchantUID], rec)
	return rec
}

// merchantUIDUsedLocked reports whether merchantUID already has a paid or cancelled payment.
func (f *Fake) merchantUIDUsedLocked(merchantUID string) bool {
	for _, rec := range f.byMerchant[merchantUID] {
		if rec.p.Status == iamport.StatusPaid || rec.p.Status == iamport.StatusCancelled {
			return true
		}
	}
	return false
}

// noteLocked builds the notification for rec, addressed to its notice_url or the
// configured URL (empty URL: nothing will be sent).
func (f *Fake) noteLocked(rec *payRec, status, cancellationID string) hookNote {
	return hookNote{
		url:            rec.noticeURL,
		impUID:         rec.p.ImpUID,
		merchantUID:    rec.p.MerchantUID,
		status:         status,
		cancellationID: cancellationID,
	}
}

func clonePayment(p iamport.Payment) iamport.Payment {
	if p.CardType != nil {
		v := *p.CardType
		p.CardType = &v
	}
	if p.CancelHistory != nil {
		p.CancelHistory = slices.Clone(p.CancelHistory)
	}
	return p
}

func cloneCustomer(c iamport.Customer) iamport.Customer {
	if c.CardType != nil {
		v := *c.CardType
		c.CardType = &v
	}
	return c
}
