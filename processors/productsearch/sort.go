package productsearch

import (
	"cmp"
	"strings"
)

// Compare orders a and b as sort does: negative when a comes first, the
// product ID (ascending, bytewise) breaking every tie. With SortRelevance the
// score belongs to the index, so Compare orders by ID alone: the order of
// equal scores.
func Compare(sort string, a, b Doc) int {
	var c int
	switch sort {
	case SortPriceAsc:
		c = cmp.Compare(a.Price, b.Price)
	case SortPriceDesc:
		c = cmp.Compare(b.Price, a.Price)
	case SortRating:
		c = cmp.Compare(b.AverageRating, a.AverageRating)
		if c == 0 {
			c = cmp.Compare(b.ReviewCount, a.ReviewCount)
		}
	case SortNewest:
		c = b.CreatedAt.Compare(a.CreatedAt)
	}
	if c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}
