// Package adaptertest is the conformance suite every billkey web-framework adapter runs.
//
// An adapter test builds, for a Harness, an http.Handler in its framework: the customer routes
// mounted under Prefix inside a group whose middleware does what a merchant's login
// middleware does (reads the user from the UserHeader request header, stores it in the
// framework's native context under UserKey, and sets the MerchantHeader response header),
// a buyer hook reading the user back from that native context through Harness.Buyer, and
// the callback routes (webhook, mobile return) mounted under CallbackPrefix outside the
// group. Run then drives every scenario
// through that handler on a loopback server and compares each answer (status, headers,
// body) with what the net/http adapter, the Reference row, answers to the same requests.
//
//	func TestConformance(t *testing.T) {
//		adaptertest.Run(t, adaptertest.Adapter{Name: "gin", New: newGinHandler})
//	}
//
// A new adapter is a new row: one New function and one call to Run.
//
// Each scenario runs against its own iamporttest fake, memstore and core.Service; nothing
// leaves the loopback interface.
package adaptertest
