package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
)

// A SQLite store for one process: open, wrap, migrate at start-up, then hand it to
// core.New as Config.Store. The same idempotency key returns the same charge.
func ExampleNew() {
	ctx := context.Background()
	db, err := sqlitedb.Open(sqlitedb.Memory) // a file path in production
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	st, err := sqlstore.New(db, sqlstore.SQLite)
	if err != nil {
		log.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		log.Fatal(err)
	}

	now := time.Now()
	for _, mu := range []string{"order1", "order2"} {
		c, created, err := st.CreateCharge(ctx, &store.Charge{
			MerchantUID: mu, UserID: "user-7", IdempotencyKey: "renewal-2026-09",
			Name: "Basic monthly", Amount: 9900, Status: store.ChargePending,
			CreatedAt: now, UpdatedAt: now,
		}, store.Lease{Owner: "instance-1", For: 2 * time.Minute})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(c.MerchantUID, created)
	}
	// Output:
	// order1 true
	// order1 false
}
