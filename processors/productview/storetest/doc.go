// Package storetest is the contract test suite of the product view's store
// port (productview.Store, plus the generation management a store offers):
// Run, which every implementation passes.
//
// It owns no production code and knows no concrete store: the servers a
// store's tests run against live with that store (sinks/redisview/redistest
// for Redis). Only tests import it.
package storetest
