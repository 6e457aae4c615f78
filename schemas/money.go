package schemas

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// minorDigits lists ISO 4217 currencies whose minor unit is not 2 digits.
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// MinorDigits is the number of decimal digits of currency's minor unit
// (2 for EUR, 0 for JPY, 3 for KWD).
func MinorDigits(currency string) int {
	if d, ok := minorDigits[currency]; ok {
		return d
	}
	return 2
}

// ValidCurrency reports whether c looks like an ISO 4217 code: three
// upper-case ASCII letters.
func ValidCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

// Errors of ParseAmount, to tell a malformed amount (400-ish) from a
// well-formed one with too many decimals (422).
var (
	ErrAmountSyntax    = errors.New("amount is not a decimal string")
	ErrAmountPrecision = errors.New("amount has more decimals than the currency allows")
	ErrAmountRange     = errors.New("amount is out of range")
)

// ParseAmount turns a decimal string such as "19.99" or "24.5" into minor
// units of currency. It accepts an optional leading '-', digits, and at most
// MinorDigits(currency) decimals; no exponent, no spaces, no thousands
// separators.
func ParseAmount(s, currency string) (int64, error) {
	digits := MinorDigits(currency)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") || !allDigits(whole) || !allDigits(frac) {
		return 0, ErrAmountSyntax
	}
	// "24.500" has three decimals, a zero or not: API.md allows at most
	// the currency's minor-unit digits.
	if len(frac) > digits {
		return 0, ErrAmountPrecision
	}
	frac += strings.Repeat("0", digits-len(frac))
	var v int64
	for _, r := range whole + frac {
		d := int64(r - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, ErrAmountRange
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatAmount writes minor units of currency as a decimal string with
// exactly the currency's minor-unit digits: 1999 EUR → "19.99".
func FormatAmount(minor int64, currency string) string {
	digits := MinorDigits(currency)
	sign := ""
	u := uint64(minor)
	if minor < 0 {
		sign = "-"
		u = uint64(-minor)
	}
	s := fmt.Sprintf("%0*d", digits+1, u)
	if digits == 0 {
		return sign + s
	}
	return sign + s[:len(s)-digits] + "." + s[len(s)-digits:]
}

// String formats m as "19.99 EUR".
func (m Money) String() string { return FormatAmount(m.Amount, m.Currency) + " " + m.Currency }
