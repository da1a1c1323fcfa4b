// Package billkeyfiber mounts billkey's billing routes on Fiber v2: on the app or, better,
// on a fiber.Router group that runs the merchant's login middleware first.
//
// The adapter only converts: status codes, headers and problem bodies come from billkey's
// one route table, so it answers byte for byte like the net/http and Gin adapters. Fiber
// reuses its request buffers once a handler returns; the adapter copies every value it
// hands on (body, path values, query, headers, host) first, so billkey may keep them.
//
//	billing := app.Group("/billing", requireLogin)
//	billkeyfiber.Mount(billing, svc, billkeyfiber.WithBuyer(func(c *fiber.Ctx) (core.Buyer, error) {
//		u, ok := c.Locals("user").(*User) // what requireLogin stored
//		if !ok {
//			return core.Buyer{}, nil // core answers 401
//		}
//		return core.Buyer{UserID: u.ID}, nil
//	}))
//	billkeyfiber.MountCallbacks(app, "/iamport", svc) // the webhook and the mobile return: outside the login group
//
// A Fiber group's middleware runs for every path under its prefix, routes mounted on the
// app included: mount the callbacks under a prefix outside the login group's, or iamport's
// notifications and the customers returning from the mobile window meet the login check.
package billkeyfiber
