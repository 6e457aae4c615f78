// Package netcut is a TCP proxy for tests that can cut a server off the
// network (refusing connections, or blackholing them: accepted, never
// answered) and bring it back, without stopping a server that other tests
// share; and a blackhole, a server that accepts and never answers.
package netcut
