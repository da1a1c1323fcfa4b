// Package billkeyhttp mounts billkey's billing routes on a net/http *http.ServeMux, with
// Go 1.22 method patterns, or serves them as an http.Handler.
//
// The adapter only converts: status codes, headers and problem bodies come from core, so
// it answers byte for byte like the Gin and Fiber adapters.
//
//	mux := http.NewServeMux()
//	billkeyhttp.Mount(mux, "/billing", svc, billkeyhttp.WithBuyer(func(r *http.Request) (core.Buyer, error) {
//		u, ok := currentUser(r.Context()) // what the merchant's login middleware stored
//		if !ok {
//			return core.Buyer{}, nil // core answers 401
//		}
//		return core.Buyer{UserID: u.ID, Email: u.Email}, nil
//	}))
//	root := http.NewServeMux()
//	root.Handle("/billing/", requireLogin(mux))
//	billkeyhttp.MountWebhook(root, "/billing/webhook", svc) // outside the login
//
// Handler serves the same routes at its root, for http.StripPrefix or another router;
// WebhookHandler does the same for the webhook.
package billkeyhttp
