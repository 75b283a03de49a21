//go:build !unix

package atomicfile

import "os"

// flock is a no-op where advisory locks are not available.
func flock(*os.File) error { return nil }
