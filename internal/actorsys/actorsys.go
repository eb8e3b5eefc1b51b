// Package actorsys makes the conductor's actor system.
package actorsys

import (
	"slices"

	"github.com/asynkron/protoactor-go/actor"
)

// registryBuckets is how many buckets the process registry spreads actors
// over. protoactor makes 1,024, each a map of 32 shards: 2.8 MB of heap in
// an idle conductor, for a few hundred actors at most. It divides 1,024, so
// an actor's bucket here is its old bucket modulo registryBuckets.
const registryBuckets = 16

// New is actor.NewActorSystem with a process registry sized for one
// conductor.
func New(options ...actor.ConfigOption) *actor.ActorSystem {
	system := actor.NewActorSystem(options...)
	shrinkRegistry(system)
	return system
}

// shrinkRegistry moves the processes registered so far (the event stream,
// dead letters) into registryBuckets buckets. It must run before any actor
// is spawned: nothing else may use the registry meanwhile.
func shrinkRegistry(system *actor.ActorSystem) {
	old := system.ProcessRegistry.LocalPIDs.LocalPIDs
	if len(old)%registryBuckets != 0 {
		return // another layout: leave it alone
	}
	small := slices.Clone(old[:registryBuckets])
	for k, bucket := range old[registryBuckets:] {
		if bucket.Count() == 0 {
			continue // Items would start a goroutine per shard to find nothing
		}
		for id, p := range bucket.Items() {
			small[(k+registryBuckets)%registryBuckets].Set(id, p)
		}
	}
	system.ProcessRegistry.LocalPIDs = &actor.SliceMap{LocalPIDs: small}
}
