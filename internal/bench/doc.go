// Package bench is the load benchmark behind cmd/billkeybench: it measures charges per
// second, latency and cost per charge of billkey against a floor (a bare handler doing
// one `again`) and a tutorial-style integration, with the iamport fake in a process of
// its own on loopback.
//
// Run starts two kinds of helper processes by re-executing the program: a fake of
// iamport that delays every API call by a fixed latency, and one process per measured
// cell (contestant × concurrency × latency × round), so that CPU time, allocations and
// peak RSS belong to that cell alone. A program that calls Run must call Child first
// thing in main (and a test binary in TestMain): in a helper process Child plays the
// helper's role and the program exits with the code it returns.
//
// Every loop is bounded twice, by a count and by a deadline, and every helper process
// by a time budget after which it is killed.
package bench
