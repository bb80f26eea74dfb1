package storage

// Sockets returns the socket paths of s's embedded stores, so that tests can
// check who may connect to them.
func Sockets(s *Stores) []string { return s.sockets }
