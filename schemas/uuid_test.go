package schemas

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsUUID agrees with a regular expression on UUIDs, their case variants
// and every one-byte change of them.
func TestIsUUID(t *testing.T) {
	for _, s := range []string{"", "not-a-uuid", eventID + "0", eventID[:35], "C3A1E5F2-7B6D-4E8F-9A0B-1C2D3E4F5A03", "c3a1e5f2x7b6d-4e8f-9a0b-1c2d3e4f5a03"} {
		if got, want := IsUUID(s), uuidRE.MatchString(s); got != want {
			t.Errorf("IsUUID(%q) = %v, want %v", s, got, want)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("0123456789abcdefABCDEFgG-/:@`\\x00\xff")
	for _, id := range []string{eventID, productID, FormatUUID([16]byte{0xff, 0, 0xab})} {
		if !IsUUID(id) {
			t.Errorf("IsUUID(%q) = false", id)
		}
		for i := range len(id) {
			for range 8 {
				b := []byte(id)
				b[i] = alphabet[rnd.IntN(len(alphabet))]
				if got, want := IsUUID(string(b)), uuidRE.MatchString(string(b)); got != want {
					t.Errorf("IsUUID(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

func BenchmarkIsUUID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if !IsUUID(eventID) {
			b.Fatal("not a UUID")
		}
	}
}
