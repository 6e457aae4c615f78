package schemas

// AverageRating is sum/count rounded half up to 2 decimals, and 0 when count
// is 0: the averageRating a product's view and a search hit show, from the
// sum and count of its ProductReviewAdded ratings. Computed in integers, so
// equal inputs give the same float on every path, and the JSON shows at
// most 2 decimals.
func AverageRating(sum, count int64) float64 {
	if count <= 0 {
		return 0
	}
	// round(sum*100/count) = floor((200*sum + count) / (2*count)) for sum >= 0.
	hundredths := (200*sum + count) / (2 * count)
	return float64(hundredths) / 100
}
