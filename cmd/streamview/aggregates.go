package main

import "github.com/streamview/streamview/processors/productsearch"

// aggregatesOf is processors.Config.Aggregates of projection name: the
// search projection joins category and brand names in (#16); nil, the
// runtime's default (products), for the others.
func aggregatesOf(name string) []string {
	if name == searchProjection {
		return productsearch.Aggregates()
	}
	return nil
}
