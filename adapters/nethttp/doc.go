// Package billkeyhttp mounts billkey's routes on a net/http *http.ServeMux, with Go 1.22
// method patterns, or serves them as an http.Handler.
//
// The adapter only converts: status codes, headers and problem bodies come from billkey's
// one route table, so it answers byte for byte like the Gin and Fiber adapters.
//
//	billing := http.NewServeMux()
//	billkeyhttp.Mount(billing, "/billing", svc, billkeyhttp.WithBuyer(func(r *http.Request) (core.Buyer, error) {
//		u, ok := currentUser(r.Context()) // what the merchant's login middleware stored
//		if !ok {
//			return core.Buyer{}, nil // answered 401
//		}
//		return core.Buyer{UserID: u.ID, Email: u.Email}, nil
//	}))
//	root := http.NewServeMux()
//	root.Handle("/billing/", requireLogin(billing))
//	billkeyhttp.MountCallbacks(root, "/iamport", svc) // the webhook and the mobile return: outside the login
//
// Handler and CallbacksHandler serve the same routes at their root, for http.StripPrefix
// or another router.
package billkeyhttp
