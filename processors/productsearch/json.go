package productsearch

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// AppendJSON appends d's JSON to b: the bytes json.Marshal(d) gives, and
// its error where it fails (a timestamp past year 9999, a rating that is
// not a number), at a fraction of its cost. The search projection encodes
// every document it writes (about 3 µs a document through reflection, 0.5
// this way); TestAppendJSONIsMarshal and FuzzAppendJSON hold it to
// json.Marshal. A value whose encoding is not plain (a string with a
// character to escape, a float in exponent form, a time outside what
// RFC 3339 writes plainly) goes through json.Marshal itself.
func (d *Doc) AppendJSON(b []byte) ([]byte, error) {
	var err error
	str := func(name, s string) {
		b = append(b, name...)
		b = appendString(b, s)
	}
	num := func(name string, n int64) {
		b = append(b, name...)
		b = strconv.AppendInt(b, n, 10)
	}
	boolean := func(name string, v bool) {
		b = append(b, name...)
		b = strconv.AppendBool(b, v)
	}
	str(`{"id":`, d.ID)
	str(`,"name":`, d.Name)
	str(`,"description":`, d.Description)
	num(`,"price":`, d.Price)
	str(`,"currency":`, d.Currency)
	str(`,"categoryId":`, d.CategoryID)
	str(`,"categoryName":`, d.CategoryName)
	str(`,"brandId":`, d.BrandID)
	str(`,"brandName":`, d.BrandName)
	if d.CategoryRefVersion != 0 {
		num(`,"categoryRefVersion":`, d.CategoryRefVersion)
	}
	if d.BrandRefVersion != 0 {
		num(`,"brandRefVersion":`, d.BrandRefVersion)
	}
	b = append(b, `,"tags":`...)
	if d.Tags == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, t := range d.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		b = append(b, ']')
	}
	b = append(b, `,"averageRating":`...)
	if b, err = appendFloat(b, d.AverageRating); err != nil {
		return nil, err
	}
	num(`,"reviewCount":`, d.ReviewCount)
	num(`,"ratingSum":`, d.RatingSum)
	boolean(`,"inStock":`, d.InStock)
	num(`,"stock":`, d.Stock)
	b = append(b, `,"createdAt":`...)
	if b, err = appendTime(b, d.CreatedAt); err != nil {
		return nil, err
	}
	b = append(b, `,"updatedAt":`...)
	if b, err = appendTime(b, d.UpdatedAt); err != nil {
		return nil, err
	}
	num(`,"version":`, d.Version)
	boolean(`,"discontinued":`, d.Discontinued)
	return append(b, '}'), nil
}

// EncodeJSON is d's JSON (AppendJSON) in a slice of its own, made large
// enough at once for a document of the usual fields.
func (d *Doc) EncodeJSON() ([]byte, error) {
	n := 512 + len(d.Name) + len(d.Description)
	for _, t := range d.Tags {
		n += len(t) + 3
	}
	return d.AppendJSON(make([]byte, 0, n))
}

// appendString appends s quoted as json.Marshal quotes it: plainly when
// every byte is printable ASCII with nothing to escape (HTML's <, > and &
// included), else through json.Marshal.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat appends f as json.Marshal writes a float64: plainly between
// 1e-6 and 1e21 (and 0), else through json.Marshal (the exponent form, and
// the error of a NaN or an infinity).
func appendFloat(b []byte, f float64) ([]byte, error) {
	if abs := math.Abs(f); abs == 0 || (abs >= 1e-6 && abs < 1e21) {
		return strconv.AppendFloat(b, f, 'f', -1, 64), nil
	}
	q, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return append(b, q...), nil
}

// appendTime appends t as json.Marshal writes a time.Time (RFC 3339 with
// nanoseconds, quoted): plainly for a year of four digits in a zone of
// whole minutes less than a day off UTC, else through json.Marshal (and
// its error).
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if _, off := t.Zone(); t.Year() >= 0 && t.Year() <= 9999 && off%60 == 0 && off > -86400 && off < 86400 {
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"'), nil
	}
	q, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	return append(b, q...), nil
}
