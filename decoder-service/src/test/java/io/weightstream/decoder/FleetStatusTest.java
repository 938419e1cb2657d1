package io.weightstream.decoder;

import static org.assertj.core.api.Assertions.assertThat;

import io.weightstream.schemas.ReplicaState;
import io.weightstream.schemas.ReplicaStatus;
import java.util.List;
import org.junit.jupiter.api.Test;

class FleetStatusTest {
    static ReplicaStatus event(String model, String replica, ReplicaState state, String version, String serving, long t) {
        return ReplicaStatus.newBuilder().setModel(model).setReplica(replica).setState(state).setVersion(version)
                .setServingVersion(serving).setLatencyMs(t % 1000).setTimestampMs(t).build();
    }

    @Test
    void theLatestEventOfEachModelAndReplicaWins() {
        List<FleetStatus.Replica> replicas = FleetStatus.latest(List.of(
                event("m", "r2", ReplicaState.SWAPPED, "v1", "v1", 1),
                event("m", "r1", ReplicaState.SWAPPED, "v1", "v1", 2),
                event("m", "r1", ReplicaState.LOADED, "v2", "v1", 3),
                event("m", "r1", ReplicaState.SWAPPED, "v2", "v2", 4),
                event("m", "r2", ReplicaState.FAILED, "v2", "v1", 5),
                event("other", "r1", ReplicaState.ROLLED_BACK, "a", "a", 6)));
        assertThat(replicas).extracting(r -> r.model() + " " + r.replica() + " " + r.lastEvent() + " " + r.servingVersion()
                + " " + r.events()).containsExactly(
                        "m r1 SWAPPED v2 3",
                        "m r2 FAILED v1 2",
                        "other r1 ROLLED_BACK a 1");
        assertThat(FleetStatus.serving(replicas, "m", "v1")).containsExactly("r2");
        assertThat(FleetStatus.serving(replicas, "m", "v2")).containsExactly("r1");
    }

    @Test
    void aStoppedReplicaServesNothing() {
        List<FleetStatus.Replica> replicas = FleetStatus.latest(List.of(
                event("m", "r1", ReplicaState.SWAPPED, "v1", "v1", 1),
                event("m", "r1", ReplicaState.STOPPED, "v1", null, 2)));
        assertThat(FleetStatus.serving(replicas, "m", "v1")).isEmpty();
    }
}
