// Package commandbus is the API's side of the command channel: it sends
// commands to the commands topic (Sender) and follows the decider's
// outcomes on the results topic (Results), so that an HTTP handler can
// answer 202 pending, wait for an outcome (Prefer: wait), or answer
// GET /v1/commands/{id}. It also owns the name-based IDs that make a
// retried request with the same Idempotency-Key the same command
// (CommandID, ProductID), and the record headers of both topics.
//
// It does not decide anything (producers/decider does), nor check a
// command's rules (producers/product), nor speak HTTP (api).
//
// # Pending commands across API instances
//
// A command is pending from the moment it is sent until its result is on
// the results topic. Results knows a command as pending in two ways: the
// Sender of the same process tracks what it sends before producing it, and
// Results also reads the commands topic (it looks at keys and headers only
// and decodes nothing), so that every API instance, including one
// restarted since, answers "pending" for a command any instance sent. The second way lags
// the first by one fetch, milliseconds; an instance that neither sent a
// command nor has read it yet answers 404 for that short while. Set
// ResultsConfig.CommandsTopic to "-" to track only this process's sends.
package commandbus
