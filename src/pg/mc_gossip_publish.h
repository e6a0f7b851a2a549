/*
 * mc_gossip_publish.h — copies the SWIM core's view into shared memory:
 * the member rows for mailcluster.members and the gossip metrics.
 */
#ifndef MC_GOSSIP_PUBLISH_H
#define MC_GOSSIP_PUBLISH_H

#include "swim.h"

/* Publish every member (as of now_mono_ms) and the member-count gauges. */
extern void mc_gossip_publish_members(const mc_swim *s, uint64_t now_mono_ms);

/*
 * Add to the metrics what the core counted since the last call.  The core's
 * counters restart with each core; *last keeps what was already added.
 */
extern void mc_gossip_publish_stats(const mc_swim *s, mc_swim_stats *last);

/* Forget the published members (worker exit). */
extern void mc_gossip_unpublish(void);

#endif
