package eventgen

import (
	"fmt"
	"math/rand/v2"
)

// Distribution is how a spread stream picks the product of each update.
type Distribution int

const (
	// Uniform picks every product with the same probability: the zero
	// value, and what spread streams did before Distribution existed.
	Uniform Distribution = iota
	// Zipf picks the product of rank k (from 1) with probability
	// proportional to 1/k^s (Options.ZipfS, DefaultZipfS when 0): a few hot
	// products get most updates, as in real catalogues, so a batch holds
	// many events of one product.
	Zipf
)

// DefaultZipfS is the Zipf exponent when Options.ZipfS is 0: close to what
// catalogues and web traffic show (popularity falls a little faster than
// 1/rank).
const DefaultZipfS = 1.1

// String is the name ParseDistribution reads.
func (d Distribution) String() string {
	switch d {
	case Uniform:
		return "uniform"
	case Zipf:
		return "zipf"
	}
	return fmt.Sprintf("Distribution(%d)", int(d))
}

// ParseDistribution reads "uniform" or "zipf".
func ParseDistribution(s string) (Distribution, error) {
	switch s {
	case "uniform":
		return Uniform, nil
	case "zipf":
		return Zipf, nil
	}
	return 0, fmt.Errorf("eventgen: unknown distribution %q (want uniform or zipf)", s)
}

// picker draws the index of the next product to update among n.
type picker func() int

// newPicker returns o.Distribution's picker over n products. Zipf ranks are
// laid over the products by a fixed shuffle (from r), so that the hottest
// product is not simply the first created.
func newPicker(r *rand.Rand, o Options, n int) picker {
	if o.Distribution != Zipf || n <= 1 {
		return func() int { return r.IntN(n) }
	}
	s := o.ZipfS
	if s == 0 {
		s = DefaultZipfS
	}
	// math/rand/v2's Zipf: P(k) ∝ (v+k)^-s for k in [0, n-1]; v = 1 makes
	// it 1/rank^s with rank = k+1. It needs s > 1.
	z := rand.NewZipf(r, s, 1, uint64(n-1))
	if z == nil {
		panic(fmt.Sprintf("eventgen: Zipf exponent %v: it must be > 1", s))
	}
	rank := r.Perm(n)
	return func() int { return rank[z.Uint64()] }
}
