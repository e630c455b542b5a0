// Package redisops holds what sagate asks of a Redis server beyond its own keys: the
// least-privilege ACL users of the admin and the sidecars, and the check that Redis
// will not evict sagate's keys. Both sides use it; neither needs the other's logic.
//
// docs/operations.md says how to set Redis up with them.
package redisops
