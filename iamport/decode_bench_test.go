package iamport

import (
	"os"
	"testing"
)

// BenchmarkDecodePayment measures reading the answer of again: envelope and payment, from
// a body shaped like a real one (47 keys, nullables null).
func BenchmarkDecodePayment(b *testing.B) {
	body, err := os.ReadFile("testdata/again_paid_2023.json")
	if err != nil {
		b.Fatal(err)
	}
	c := &Client{}
	cl := &call{method: "POST", endpoint: epAgain}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var p Payment
		if err := c.interpret(cl, 200, body, &p); err != nil {
			b.Fatal(err)
		}
	}
}
