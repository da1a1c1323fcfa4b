// Package chaos holds the tests that run the renewal engine the way production does and
// then break it: several service processes on one PostgreSQL database over one fake of
// iamport, with faults injected on `again` and instances killed with SIGKILL while they
// renew, checked afterwards against the store and the fake (docs/guarantees.md, R4, R5,
// R18, R19). It also holds the renewal sweep benchmark. Everything lives in its tests; the
// package has no API.
package chaos
