//go:build unix

package atomicfile

import (
	"os"
	"syscall"
)

// flock takes an exclusive, non-blocking advisory lock on f.
func flock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// errWouldBlock is flock's answer when another process holds the lock.
const errWouldBlock = syscall.EWOULDBLOCK
