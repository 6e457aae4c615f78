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
// A command is pending from the moment Kafka has it until its result is
// on the results topic. Results knows a command as pending in two ways:
// the Sender of the same process reports what it has written (and, while a
// keyed command is being written, holds its key: a retry gets ErrInFlight,
// never "pending" for a command that may not get written), and Results
// also reads the commands topic (keys and headers only, nothing decoded),
// so that every API instance, including one restarted since, answers
// "pending" for a command any instance sent. The second way lags the first
// by one fetch, milliseconds; an instance that neither sent a command nor
// has read it yet answers 404 for that short while. Set
// ResultsConfig.CommandsTopic to "-" to track only this process's sends.
//
// # Outcomes of a decider in the same process
//
// When the decider runs in the API's process (streamview serve with both
// roles, the default), it hands each committed transaction's outcomes to
// Results.Deliver as soon as the broker acknowledges the commit
// (decider.Config.Outcomes). A Prefer: wait is then answered without
// waiting for the commit markers and the results fetch that reads them
// (bench api: the wait from the decider's batch to the outcome, p50 7 ->
// 5 ms, p99 30-44 -> 22-28 ms at 1,000 commands/s). The same outcome read
// from the topic later changes nothing; commands that another instance's
// decider owns are answered from the topic, as before.
//
// # Idempotency keys bound to their request
//
// A keyed command's record carries HeaderKeyID and HeaderFingerprint
// (Request.Fingerprint: caller, method, path, canonical JSON body). Results
// keeps the first binding of each key it reads or writes, so that the same
// key with another request is refused (ErrKeyReused) on every instance and
// after restarts, for as long as Results looks back.
//
// # Outcomes kept
//
// Results keeps outcomes in memory bounded by bytes (ResultBytes each),
// accepted and rejected in two budgets (ResultsConfig.MaxAcceptedBytes,
// MaxRejectedBytes), each forgetting its own oldest first: a flood of
// cheap rejected commands cannot push out accepted outcomes. This cache
// only answers GET /v1/commands/{id} and waits; a retried command gets its
// first outcome from the decider, which keeps every outcome for its
// idempotency window across restarts.
package commandbus
