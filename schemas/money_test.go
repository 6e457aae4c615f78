package schemas

import (
	"errors"
	"testing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		name    string
		in, cur string
		want    int64
		wantErr error
	}{
		{"two decimals", "19.99", "EUR", 1999, nil},
		{"one decimal equals two", "24.5", "EUR", 2450, nil},
		{"trailing zeros beyond precision count", "24.500", "EUR", 0, ErrAmountPrecision},
		{"whole", "7", "EUR", 700, nil},
		{"negative", "-1.5", "EUR", -150, nil},
		{"yen has none", "120", "JPY", 120, nil},
		{"yen decimals", "120.5", "JPY", 0, ErrAmountPrecision},
		{"yen decimals of zero", "120.0", "JPY", 0, ErrAmountPrecision},
		{"dinar three", "1.234", "KWD", 1234, nil},
		{"too precise", "1.999", "EUR", 0, ErrAmountPrecision},
		{"empty", "", "EUR", 0, ErrAmountSyntax},
		{"dot only", ".", "EUR", 0, ErrAmountSyntax},
		{"no whole", ".5", "EUR", 0, ErrAmountSyntax},
		{"no frac", "5.", "EUR", 0, ErrAmountSyntax},
		{"exponent", "1e3", "EUR", 0, ErrAmountSyntax},
		{"space", " 1", "EUR", 0, ErrAmountSyntax},
		{"plus", "+1", "EUR", 0, ErrAmountSyntax},
		{"overflow", "99999999999999999999", "EUR", 0, ErrAmountRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAmount(tt.in, tt.cur)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("ParseAmount(%q, %s) = %d, %v; want %d, %v", tt.in, tt.cur, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		minor int64
		cur   string
		want  string
	}{
		{1999, "EUR", "19.99"}, {5, "EUR", "0.05"}, {0, "EUR", "0.00"}, {-150, "EUR", "-1.50"},
		{120, "JPY", "120"}, {1234, "KWD", "1.234"},
	}
	for _, tt := range tests {
		if got := FormatAmount(tt.minor, tt.cur); got != tt.want {
			t.Errorf("FormatAmount(%d, %s) = %q, want %q", tt.minor, tt.cur, got, tt.want)
		}
		back, err := ParseAmount(tt.want, tt.cur)
		if err != nil || back != tt.minor {
			t.Errorf("round trip %q: %d, %v", tt.want, back, err)
		}
	}
}
