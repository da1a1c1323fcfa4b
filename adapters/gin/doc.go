// Package billkeygin mounts billkey's billing routes on Gin: on the engine or, better, on
// a gin.IRoutes group that runs the merchant's login middleware first.
//
// The adapter only converts: status codes, headers and problem bodies come from core, so
// it answers byte for byte like the net/http and Fiber adapters.
//
//	billing := router.Group("/billing", requireLogin)
//	billkeygin.Mount(billing, svc, billkeygin.WithBuyer(func(c *gin.Context) (core.Buyer, error) {
//		u, ok := c.Get("user") // what requireLogin stored with c.Set
//		if !ok {
//			return core.Buyer{}, nil // core answers 401
//		}
//		return core.Buyer{UserID: u.(*User).ID}, nil
//	}))
//	billkeygin.MountWebhook(router, "/billing/webhook", svc) // outside the login group
package billkeygin
