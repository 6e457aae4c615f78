// Package auth checks the bearer tokens of the HTTP API (API.md,
// "Authentication") and mints them for operators and tests.
//
// A token is a JWT: HS256 with a shared secret, or RS256/ES256 with a key of
// a JSON Web Key Set read from a file or a URL (github.com/golang-jwt/jwt/v5
// and github.com/MicahParks/keyfunc/v3 do the cryptography; nothing here
// parses or verifies a JWT by hand). The algorithms are pinned by the
// configuration: HS256 only when a secret is configured, and then only with
// that secret; RS256 and ES256 only with a key of the JWKS, never an HS256
// token checked with a public key; `none` never. `exp` is required, `iss`
// and `aud` are checked when configured, `sub` is required (it is the
// caller: a review's userId, the rate limit's key, the idempotency key's
// owner). The `scope` claim is a space-separated string: the Scope values
// in it are granted, others (an identity provider's "openid", say) are
// ignored. A token whose header lists critical extensions (`crit`) is
// refused: none is understood here (RFC 7515 §4.1.11).
//
// It owns tokens and scopes. It does not own which route needs which
// scope, the HTTP answers (401, 403) or rate limits: those are the api
// package's, nor flags and environment (cmd/streamview).
package auth
