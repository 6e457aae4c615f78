package esindex

// SetAfterJoin makes Apply call f between joining a chunk's documents with
// the reference names and writing them.
func SetAfterJoin(ix *Index, f func()) { ix.afterJoin = f }
