package iamport_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// Benchmarks run against the fake on loopback, so they measure the client plus a local
// HTTP round trip and the fake's own work, not iamport's latency.

func benchFake(b *testing.B) (*iamporttest.Server, *iamport.Client) {
	b.Helper()
	srv := iamporttest.NewServer()
	b.Cleanup(srv.Close)
	c := srv.Client()
	if _, err := srv.IssueBillingKey(iamporttest.IssueRequest{PG: "kcp_billing", MerchantUID: "bench_issue", CustomerUID: "bench_cust", CardNumber: iamporttest.CardOK}); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Token(context.Background()); err != nil {
		b.Fatal(err)
	}
	return srv, c
}

// BenchmarkTokenCached is the path every call takes once a token is cached: it must not
// allocate.
func BenchmarkTokenCached(b *testing.B) {
	_, c := benchFake(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenCachedParallel(b *testing.B) {
	_, c := benchFake(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Token(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkGetPayment(b *testing.B) {
	_, c := benchFake(b)
	ctx := context.Background()
	p, err := c.Again(ctx, iamport.AgainRequest{CustomerUID: "bench_cust", MerchantUID: "bench_lookup", Amount: 1000, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.GetPayment(ctx, p.ImpUID, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.GetPayment(ctx, p.ImpUID, false); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

var benchOrder atomic.Int64

func BenchmarkAgain(b *testing.B) {
	_, c := benchFake(b)
	ctx := context.Background()
	next := func() iamport.AgainRequest {
		return iamport.AgainRequest{CustomerUID: "bench_cust", MerchantUID: "bench_" + strconv.FormatInt(benchOrder.Add(1), 10), Amount: 9900, Name: "월 구독"}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Again(ctx, next()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Again(ctx, next()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
