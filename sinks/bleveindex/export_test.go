package bleveindex

// PlantUnreadable stores at id a discontinued document whose stored source
// does not decode: what the contract suite's Refuse plants.
func PlantUnreadable(ix *Index, id string) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.idx.Index(id, map[string]any{fieldDiscontinued: true, fieldSource: "{not json"})
}
