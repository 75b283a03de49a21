//go:build !unix

package atomicfile

import (
	"errors"
	"os"
)

// flock is a no-op where advisory locks are not available.
func flock(*os.File) error { return nil }

// errWouldBlock is never returned where locks are a no-op.
var errWouldBlock = errors.New("would block")
