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

// PG site codes (pg_id) the fake gives keys and payments unless WithPGID says otherwise.
const (
	// TestSiteCode is the site code of NHN KCP's test environment, used when the fake runs
	// as a sandbox (test channel).
	TestSiteCode = "T0000"
	// LiveSiteCode is a made-up site code that looks like a live KCP merchant's, used when
	// the fake does not run as a sandbox.
	LiveSiteCode = "A52CY"
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
	sandboxField   bool   // answers carry the sandbox key
	pgID           string // pg_id of keys issued without a site in pg
	legacyNotFound bool
	tokenLifetime  time.Duration
	latency        time.Duration // every API call waits this long first
	clock          fakeClock
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

	// again requests in flight and the most seen at once, per merchant_uid.
	againInFlight map[string]int
	againMax      map[string]int

	state *stateFile // nil without WithStateFile

	done      chan struct{} // closed by Close: ends latencies and stalls
	closeOnce sync.Once

	hooks *webhooks
}

// payRec is a stored payment plus what iamport keeps beside it.
type payRec struct {
	p         payment
	seq       int64
	noticeURL string
	updated   int64
	sandbox   bool // made on a test channel: GET /payments/{imp_uid} hides it by default
}

// custRec is a stored billing key: the public record and the test card behind it.
type custRec struct {
	c       customer
	card    testCard
	charges int  // paid charges made with this key
	sandbox bool // issued on a test channel; its payments are too
}

// schedRec is a scheduled payment with the request fields the result does not show.
type schedRec struct {
	r   schedule
	seq int64
	c   chargeSpec
}

// New returns a fake that is not listening; mount Handler() where you like. Call Close when
// done if it sends webhooks, so no delivery outlives the test.
//
// With WithStateFile, New loads the state saved there and panics if the file exists but
// cannot be read; NewWithState returns that as an error instead.
func New(opts ...Option) *Fake {
	f, err := NewWithState(opts...)
	if err != nil {
		panic(err.Error())
	}
	return f
}

// NewWithState is New, except that a state file (WithStateFile) that exists but cannot be
// read or understood is an error, not a panic. A missing file is not an error: the fake
// starts empty and creates it at its first change.
func NewWithState(opts ...Option) (*Fake, error) {
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
		sandboxField:   !o.noSandboxField,
		pgID:           o.pgID,
		legacyNotFound: o.legacyNotFound,
		tokenLifetime:  o.tokenLifetime,
		latency:        o.latency,
		clock:          newClock(o.clock, o.realClock),
		byImpUID:       make(map[string]*payRec),
		byMerchant:     make(map[string][]*payRec),
		customers:      make(map[string]*custRec),
		schedules:      make(map[string]*schedRec),
		faults:         make(map[Endpoint][]Fault),
		counts:         make(map[Endpoint]int),
		againInFlight:  make(map[string]int),
		againMax:       make(map[string]int),
		done:           make(chan struct{}),
	}
	if f.pgID == "" {
		f.pgID = LiveSiteCode
		if f.sandbox {
			f.pgID = TestSiteCode
		}
	}
	if o.statePath != "" {
		f.state = &stateFile{path: o.statePath}
		if err := f.loadState(); err != nil {
			return nil, err
		}
	}
	f.hooks = newWebhooks(o.webhook)
	return f, nil
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
	return f.nowLocked()
}

func (f *Fake) nowLocked() time.Time { return f.clock.now() }

// unixLocked is the fake clock's time in unix seconds, as iamport writes times.
func (f *Fake) unixLocked() int64 { return f.clock.now().Unix() }

// Advance moves the fake clock forward by d and runs the schedules that have become due, in
// order of schedule_at. A negative d does nothing.
func (f *Fake) Advance(d time.Duration) {
	if d < 0 {
		return
	}
	f.mu.Lock()
	f.clock.advance(d)
	notes, _ := f.runDueSchedulesLocked()
	f.mu.Unlock()
	f.changed()
	f.notify(notes)
}

// Payment returns a copy of the payment stored under impUID, sandbox or not, as the API
// answers it.
func (f *Fake) Payment(impUID string) (iamport.Payment, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.byImpUID[impUID]
	if !ok {
		return iamport.Payment{}, false
	}
	return f.answerLocked(rec).toClient(), true
}

// PaymentsByMerchantUID returns copies of every payment with merchantUID, oldest first.
func (f *Fake) PaymentsByMerchantUID(merchantUID string) []iamport.Payment {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []iamport.Payment
	for _, rec := range f.byMerchant[merchantUID] {
		out = append(out, f.answerLocked(rec).toClient())
	}
	return out
}

// PutPayment replaces the payment with p.ImpUID, or inserts p when there is none (an empty
// ImpUID gets a fresh one). The payment is stored as given: tests use it to make the fake
// answer mismatched amounts, statuses, merchant_uids and so on. A nil p.Sandbox stores a
// payment of the fake's own channel (WithSandbox); the answer carries the sandbox key unless
// WithoutSandboxField. AmountNotWhole cannot be stored this way: use SetAmountJSON.
func (f *Fake) PutPayment(p iamport.Payment) {
	f.mu.Lock()
	rec := paymentFromClient(p)
	if rec.ImpUID == "" {
		rec.ImpUID = f.newImpUIDLocked()
	}
	sandbox := f.sandbox
	if p.Sandbox != nil {
		sandbox = *p.Sandbox
	}
	rec.Sandbox = nil
	now := f.unixLocked()
	if old, ok := f.byImpUID[rec.ImpUID]; ok {
		if old.p.MerchantUID != rec.MerchantUID {
			f.unindexLocked(old)
			old.p = rec
			f.indexLocked(old)
		}
		old.p, old.sandbox, old.updated = rec, sandbox, now
	} else {
		f.seq++
		r := &payRec{p: rec, seq: f.seq, updated: now, sandbox: sandbox}
		f.byImpUID[rec.ImpUID] = r
		f.indexLocked(r)
	}
	f.mu.Unlock()
	f.changed()
}

// SetAmountJSON makes every later answer carrying the payment impUID write its amount as
// amount, a JSON number such as "9900.5", to imitate iamport answering with an amount that
// is not a whole number of won. The fake's bookkeeping (cancellable balance) keeps the
// whole amount. "" writes the whole amount again.
func (f *Fake) SetAmountJSON(impUID, amount string) error {
	if amount != "" && !validAmountJSON(amount) {
		return errors.New("iamporttest: SetAmountJSON: amount must be a JSON number")
	}
	f.mu.Lock()
	rec, ok := f.byImpUID[impUID]
	if ok {
		rec.p.Amount.text = amount
	}
	f.mu.Unlock()
	if !ok {
		return errors.New("iamporttest: SetAmountJSON: no payment with that imp_uid")
	}
	f.changed()
	return nil
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

// Customer returns a copy of the billing key registered under customerUID, as the API
// answers it.
func (f *Fake) Customer(customerUID string) (iamport.Customer, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.customers[customerUID]
	if !ok {
		return iamport.Customer{}, false
	}
	return f.answerCustomerLocked(rec).toClient(), true
}

// DeleteCustomerKey removes the billing key under customerUID without an API call, as if it
// had been deleted from the console. It reports whether there was one.
func (f *Fake) DeleteCustomerKey(customerUID string) bool {
	f.mu.Lock()
	_, ok := f.customers[customerUID]
	delete(f.customers, customerUID)
	f.mu.Unlock()
	if ok {
		f.changed()
	}
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
	return rec.r.toClient(), true
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
	p := f.answerLocked(rec).toClient()
	note := f.noteLocked(rec, statusCancelled, c.CancellationID)
	f.mu.Unlock()
	f.changed()
	f.notify([]hookNote{note})
	return p, nil
}

// MaxConcurrentAgain reports, for every merchant_uid that again was asked to charge, the
// most again requests for it that were in the fake at the same time (from the moment its
// body was read to the moment it was answered or dropped; a Latency fault widens the
// window). A value above 1 means two charges of one merchant_uid overlapped.
func (f *Fake) MaxConcurrentAgain() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.againMax))
	for k, v := range f.againMax {
		out[k] = v
	}
	return out
}

// againStarted and againEnded bracket one again request for merchantUID.
func (f *Fake) againStarted(merchantUID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.againInFlight[merchantUID] + 1
	f.againInFlight[merchantUID] = n
	if n > f.againMax[merchantUID] {
		f.againMax[merchantUID] = n
	}
}

func (f *Fake) againEnded(merchantUID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := f.againInFlight[merchantUID] - 1; n > 0 {
		f.againInFlight[merchantUID] = n
	} else {
		delete(f.againInFlight, merchantUID)
	}
}

// setBase records the absolute base URL used for receipt URLs made outside a request.
func (f *Fake) setBase(u string) {
	f.mu.Lock()
	f.baseURL = u
	f.mu.Unlock()
}

// storeLocked records a new payment.
func (f *Fake) storeLocked(p payment, noticeURL string, sandbox bool) *payRec {
	f.seq++
	rec := &payRec{p: p, seq: f.seq, noticeURL: noticeURL, updated: f.unixLocked(), sandbox: sandbox}
	f.byImpUID[p.ImpUID] = rec
	f.byMerchant[p.MerchantUID] = append(f.byMerchant[p.MerchantUID], rec)
	return rec
}

// answerLocked is rec's payment as an answer writes it: a copy, with the sandbox key
// unless WithoutSandboxField.
func (f *Fake) answerLocked(rec *payRec) payment {
	p := rec.p.clone()
	p.Sandbox = nil
	if f.sandboxField {
		p.Sandbox = boolPtr(rec.sandbox)
	}
	return p
}

// answerCustomerLocked is answerLocked for a billing key.
func (f *Fake) answerCustomerLocked(rec *custRec) customer {
	c := rec.c.clone()
	c.Sandbox = nil
	if f.sandboxField {
		c.Sandbox = boolPtr(rec.sandbox)
	}
	return c
}

// merchantUIDUsedLocked reports whether merchantUID already has a paid or cancelled payment.
func (f *Fake) merchantUIDUsedLocked(merchantUID string) bool {
	for _, rec := range f.byMerchant[merchantUID] {
		if rec.p.Status == statusPaid || rec.p.Status == statusCancelled {
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

// PutCustomer stores a billing key as given, replacing any under c.CustomerUID, with the
// test card cardNumber behind it (it decides how charges of the key go; its own number is
// not shown unless c.CardNumber says so). A nil c.Sandbox stores a key of the fake's own
// channel. It fails for a card that could not be issued.
func (f *Fake) PutCustomer(c iamport.Customer, cardNumber string) error {
	card := parseCard(cardNumber)
	if !card.issuable() {
		return errors.New("iamporttest: PutCustomer: the card cannot hold a billing key")
	}
	if c.CustomerUID == "" {
		return errors.New("iamporttest: PutCustomer: customer_uid is required")
	}
	rec := customerFromClient(c)
	f.mu.Lock()
	sandbox := f.sandbox
	if c.Sandbox != nil {
		sandbox = *c.Sandbox
	}
	f.customers[c.CustomerUID] = &custRec{c: rec, card: card, sandbox: sandbox}
	f.mu.Unlock()
	f.changed()
	return nil
}
