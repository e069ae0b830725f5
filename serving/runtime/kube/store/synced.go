package store

// HasSynced reports whether the store's informers hold the API server's objects:
// from then on the controller has seen (or is being fed) every Service,
// Configuration and Route, so a replica can report ready. It is false before Run.
func (s *Store) HasSynced() bool {
	for _, inf := range s.informers {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}
