//go:build unix

package userfile

import "syscall"

// nonBlock opens a FIFO without waiting for a writer, so that it can be looked at and
// refused; it changes nothing for a regular file.
const nonBlock = syscall.O_NONBLOCK
