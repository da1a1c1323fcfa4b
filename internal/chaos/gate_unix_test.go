//go:build unix

package chaos

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// gate keeps the clock still while any instance sweeps: instances sweep under a shared
// lock and the parent moves the fake's clock under the exclusive one. A clock that jumps
// hours in the middle of a sweep would let every lease taken in it lapse at once (the
// leases are measured on the same clock), which no real clock does. Two lock files give
// the parent precedence: while it waits on the work lock, the entry lock keeps new
// sweeps out. The kernel drops the locks of a killed process.
type gate struct {
	entry, work *os.File
}

func openGate(dir string) (*gate, error) {
	entry, err := os.OpenFile(filepath.Join(dir, "gate.entry"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	work, err := os.OpenFile(filepath.Join(dir, "gate.work"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		_ = entry.Close()
		return nil, err
	}
	return &gate{entry: entry, work: work}, nil
}

// enter starts a sweep; leave ends it.
func (g *gate) enter() error {
	if err := flock(g.entry, syscall.LOCK_SH); err != nil {
		return err
	}
	err := flock(g.work, syscall.LOCK_SH)
	return errors.Join(err, flock(g.entry, syscall.LOCK_UN))
}

func (g *gate) leave() error { return flock(g.work, syscall.LOCK_UN) }

// hold waits until no sweep runs and keeps new ones out until release.
func (g *gate) hold() error {
	if err := flock(g.entry, syscall.LOCK_EX); err != nil {
		return err
	}
	if err := flock(g.work, syscall.LOCK_EX); err != nil {
		return errors.Join(err, flock(g.entry, syscall.LOCK_UN))
	}
	return nil
}

func (g *gate) release() error {
	return errors.Join(flock(g.work, syscall.LOCK_UN), flock(g.entry, syscall.LOCK_UN))
}

func (g *gate) close() error { return errors.Join(g.entry.Close(), g.work.Close()) }

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
