package product_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
)

const (
	pid       = "0b7c6c1e-2f47-4a8e-9a3c-5d2f3e1a9b10"
	commandID = "5f0d8a52-93c4-4d52-8d55-2a3f1d9e7c01"
)

func eur(minor int64) schemas.Money { return schemas.Money{Amount: minor, Currency: "EUR"} }

func cmd(data schemas.CommandData) schemas.Command {
	return schemas.Command{ID: commandID, ProductID: pid, Data: data}
}

func withVersion(c schemas.Command, v int64) schemas.Command {
	c.ExpectedVersion = &v
	return c
}

// validCreate is a CreateProduct that passes Check.
func validCreate() *schemas.CreateProduct {
	return &schemas.CreateProduct{
		Name:         "Trail Shoe",
		Description:  "Light.\nGrippy.",
		Price:        eur(8999),
		CategoryID:   "shoes",
		CategoryName: "Shoes",
		BrandID:      "acme",
		BrandName:    "ACME",
		Tags:         []string{"running", "trail"},
		ImageURLs:    []string{"https://img.example.com/shoe.jpg"},
		Stock:        12,
	}
}

// live is the state after validCreate's ProductCreated at version 1.
func live() product.State {
	return product.State{
		Exists:       true,
		Version:      1,
		Name:         "Trail Shoe",
		Description:  "Light.\nGrippy.",
		Price:        eur(8999),
		CategoryID:   "shoes",
		CategoryName: "Shoes",
		BrandID:      "acme",
		BrandName:    "ACME",
		Tags:         []string{"running", "trail"},
		ImageURLs:    []string{"https://img.example.com/shoe.jpg"},
		Stock:        12,
	}
}

// envelope wraps payloads the way the decider does.
func envelope(s product.State, data []schemas.EventData) []schemas.Event {
	out := make([]schemas.Event, len(data))
	for i, d := range data {
		v := s.Version + int64(i) + 1
		out[i] = schemas.Event{
			ID:            fmt.Sprintf("event-%d", v),
			AggregateType: schemas.AggregateProduct,
			AggregateID:   pid,
			Version:       v,
			Data:          d,
		}
	}
	return out
}

// show prints payloads readably: %+v would print pointers as addresses.
func show(v any) string {
	if ds, ok := v.([]schemas.EventData); ok {
		parts := make([]string, len(ds))
		for i, d := range ds {
			parts[i] = show(d)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	if d, ok := v.(schemas.EventData); ok && d != nil {
		return d.EventType() + string(b)
	}
	return string(b)
}
