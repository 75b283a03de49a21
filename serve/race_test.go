//go:build race

package serve

// raceEnabled: the race detector slows decoding tenfold and multiplies memory, so the tests
// that time real decompression bombs do not run under it.
const raceEnabled = true
