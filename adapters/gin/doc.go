// Package billkeygin mounts billkey's routes on Gin: the customer's routes on a
// gin.IRoutes group that runs the merchant's login middleware first, the callbacks (the
// webhook and the mobile return) on the engine, outside the login.
//
// The adapter only converts: status codes, headers and problem bodies come from billkey's
// one route table, so it answers byte for byte like the net/http and Fiber adapters.
//
//	billing := router.Group("/billing", requireLogin)
//	billkeygin.Mount(billing, svc, billkeygin.WithBuyer(func(c *gin.Context) (core.Buyer, error) {
//		u, ok := c.Get("user") // what requireLogin stored with c.Set
//		if !ok {
//			return core.Buyer{}, nil // answered 401
//		}
//		return core.Buyer{UserID: u.(*User).ID}, nil
//	}))
//	billkeygin.MountCallbacks(router, "/iamport", svc) // outside the login group
package billkeygin
