package datasets

import "sort"

// rng is SplitMix64: tiny, fast and fixed forever, so a seed gives the same split and the
// same shuffles with any Go version.
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a uniform integer in [0, n) without modulo bias.
func (r *rng) intn(n int) int {
	un := uint64(n)
	limit := ^uint64(0) - ^uint64(0)%un
	for {
		if v := r.next(); v < limit {
			return int(v % un)
		}
	}
}

// shuffle permutes x (Fisher-Yates).
func shuffle[T any](r *rng, x []T) {
	for i := len(x) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		x[i], x[j] = x[j], x[i]
	}
}

// Split fractions.
const (
	TrainFraction = 0.6
	ValidFraction = 0.2
)

// stratifiedSplit splits row indices 60/20/20 within each of classes classes, from seed, and returns
// each split sorted ascending.
func stratifiedSplit(labels []uint8, classes int, seed uint64) (train, valid, test []int64) {
	r := newRNG(seed)
	for c := range classes {
		var idx []int64
		for i, l := range labels {
			if int(l) == c {
				idx = append(idx, int64(i))
			}
		}
		shuffle(r, idx)
		n := len(idx)
		nt := int(float64(n)*TrainFraction + 0.5)
		nv := int(float64(n)*ValidFraction + 0.5)
		if nt+nv > n {
			nv = n - nt
		}
		train = append(train, idx[:nt]...)
		valid = append(valid, idx[nt:nt+nv]...)
		test = append(test, idx[nt+nv:]...)
	}
	for _, s := range [][]int64{train, valid, test} {
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	}
	return train, valid, test
}
