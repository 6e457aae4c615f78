package main

// defaultDeciderMembers is --decider-members of serve and bench api: the
// decider group members one process runs (decider.NewMembers). A member
// decides in one Kafka transaction at a time; members on disjoint
// partitions overlap their transactions' broker round trips.
const defaultDeciderMembers = 3
