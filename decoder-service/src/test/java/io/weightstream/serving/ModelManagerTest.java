package io.weightstream.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ModelManagerTest {
    /** Closes like the real manager and remembers what it closed, in order. */
    private static final class Closer implements java.util.function.Consumer<ServedModel> {
        final List<ServedModel> closed = new ArrayList<>();

        @Override
        public synchronized void accept(ServedModel m) {
            closed.add(m);
            m.close();
        }
    }

    @Test
    void acquireFailsUntilTheFirstSwap() {
        try (ModelManager manager = new ModelManager("tiny")) {
            assertThat(manager.current()).isEmpty();
            assertThatThrownBy(manager::acquire).isInstanceOf(NoModelServingException.class)
                    .hasMessageContaining("'tiny' has no version serving");
            ServedModel.Info info = manager.swap(ServingFixtures.tiny("tiny", 1));
            assertThat(info.version()).isEqualTo("1");
            assertThat(info.servingSinceMs()).isPositive();
            assertThat(manager.current()).contains(info);
            try (ModelManager.Lease lease = manager.acquire()) {
                assertThat(ServingFixtures.whichVersion(lease.model())).isEqualTo(1f);
                assertThat(lease.info()).isEqualTo(info);
                assertThat(manager.leasesInFlight()).isEqualTo(1);
            }
            assertThat(manager.leasesInFlight()).isZero();
        }
    }

    @Test
    void aRequestThatAcquiredTheOldVersionFinishesOnItAndTheOldVersionClosesAfterItsLastRelease() {
        Closer closer = new Closer();
        ModelManager manager = new ModelManager("tiny", closer, Runnable::run);
        ServedModel v1 = ServingFixtures.tiny("tiny", 1);
        ServedModel v2 = ServingFixtures.tiny("tiny", 2);
        manager.swap(v1);
        ModelManager.Lease a = manager.acquire();
        ModelManager.Lease b = manager.acquire();
        manager.swap(v2);
        assertThat(closer.closed).isEmpty();   // two requests still run on v1
        assertThat(ServingFixtures.whichVersion(a.model())).isEqualTo(1f);
        try (ModelManager.Lease fresh = manager.acquire()) {
            assertThat(ServingFixtures.whichVersion(fresh.model())).isEqualTo(2f);
        }
        a.close();
        a.close();   // a second release of the same lease is a no-op, not a second decRef
        assertThat(closer.closed).isEmpty();
        assertThat(ServingFixtures.whichVersion(b.model())).isEqualTo(1f);
        b.close();
        assertThat(closer.closed).containsExactly(v1);
        assertThatThrownBy(() -> ServingFixtures.whichVersion(v1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(b::model).isInstanceOf(IllegalStateException.class).hasMessageContaining("released");
        manager.close();
        assertThat(closer.closed).containsExactly(v1, v2);
    }

    @Test
    void aSwapWithNoLeaseOutClosesTheOldVersionAtOnce() {
        Closer closer = new Closer();
        try (ModelManager manager = new ModelManager("tiny", closer, Runnable::run)) {
            ServedModel v1 = ServingFixtures.tiny("tiny", 1);
            manager.swap(v1);
            manager.swap(ServingFixtures.tiny("tiny", 2));
            assertThat(closer.closed).containsExactly(v1);
            assertThat(manager.swaps()).isEqualTo(2);
        }
    }

    @Test
    void closeWaitsForTheLastLeaseThenRefusesRequestsAndSwaps() {
        Closer closer = new Closer();
        ModelManager manager = new ModelManager("tiny", closer, Runnable::run);
        ServedModel v1 = ServingFixtures.tiny("tiny", 1);
        manager.swap(v1);
        ModelManager.Lease lease = manager.acquire();
        manager.close();
        manager.close();
        assertThat(manager.isClosed()).isTrue();
        assertThat(closer.closed).isEmpty();
        assertThat(ServingFixtures.whichVersion(lease.model())).isEqualTo(1f);
        assertThatThrownBy(manager::acquire).isInstanceOf(NoModelServingException.class)
                .hasMessageContaining("shutting down");
        ServedModel v2 = ServingFixtures.tiny("tiny", 2);
        try {
            assertThatThrownBy(() -> manager.swap(v2)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
        } finally {
            v2.close();   // a refused swap leaves the model with its caller
        }
        lease.close();
        assertThat(closer.closed).containsExactly(v1);
    }

    @Test
    void refusesAVersionOfAnotherModelAndTheInstanceServingNow() {
        Closer closer = new Closer();
        try (ModelManager manager = new ModelManager("tiny", closer, Runnable::run)) {
            ServedModel v1 = ServingFixtures.tiny("tiny", 1);
            manager.swap(v1);
            try (ServedModel other = ServingFixtures.tiny("other", 1)) {
                assertThatThrownBy(() -> manager.swap(other)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("model 'other'").hasMessageContaining("model 'tiny'");
            }
            assertThatThrownBy(() -> manager.swap(v1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("serving now");
            assertThat(closer.closed).isEmpty();
            assertThat(ServingFixtures.whichVersion(v1)).isEqualTo(1f);
        }
    }

    @Test
    void aFailingCloseOfARetiredVersionDoesNotFailTheRequestThatReleasedIt() {
        ModelManager manager = new ModelManager("tiny", m -> {
            m.close();
            throw new IllegalStateException("native close failed");
        }, Runnable::run);
        manager.swap(ServingFixtures.tiny("tiny", 1));
        ModelManager.Lease lease = manager.acquire();
        manager.swap(ServingFixtures.tiny("tiny", 2));
        lease.close();   // must not throw
        try (ModelManager.Lease next = manager.acquire()) {
            assertThat(ServingFixtures.whichVersion(next.model())).isEqualTo(2f);
        }
        manager.close();
    }

    @Test
    void byDefaultARetiredVersionIsClosedInTheBackgroundNotByTheRequestThatReleasedIt() throws Exception {
        List<String> closingThreads = java.util.Collections.synchronizedList(new ArrayList<>());
        ModelManager manager = new ModelManager("tiny", m -> {
            closingThreads.add(Thread.currentThread().getName());
            m.close();
        }, ModelManager.RETIRER);
        ServedModel v1 = ServingFixtures.tiny("tiny", 1);
        manager.swap(v1);
        ModelManager.Lease lease = manager.acquire();
        manager.swap(ServingFixtures.tiny("tiny", 2));
        assertThat(ServingFixtures.whichVersion(lease.model())).isEqualTo(1f);
        lease.close();
        assertThat(manager.awaitRetired(java.time.Duration.ofSeconds(30))).isTrue();
        assertThat(closingThreads).containsExactly("weightstream-model-retire");
        assertThatThrownBy(() -> ServingFixtures.whichVersion(v1)).isInstanceOf(IllegalStateException.class);
        manager.close();
        assertThat(manager.awaitRetired(java.time.Duration.ofSeconds(30))).isTrue();
        assertThat(closingThreads).hasSize(2);

        try (ModelManager real = new ModelManager("tiny")) {   // the public constructor closes for real
            ServedModel v3 = ServingFixtures.tiny("tiny", 3);
            real.swap(v3);
            real.swap(ServingFixtures.tiny("tiny", 4));
            assertThat(real.awaitRetired(java.time.Duration.ofSeconds(30))).isTrue();
            assertThatThrownBy(() -> ServingFixtures.whichVersion(v3)).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void servingModelsKeepsOneManagerPerModel() throws InterruptedException {
        try (ServingModels models = new ServingModels()) {
            assertThat(models.find("tiny")).isEmpty();
            assertThat(models.models()).isEmpty();
            models.swap(ServingFixtures.tiny("tiny", 1));
            ServedModel other = ServingFixtures.tiny("other", 7);
            models.swap(other);
            assertThat(models.models()).containsExactly("other", "tiny");
            assertThat(models.manager("tiny")).isSameAs(models.find("tiny").orElseThrow());
            try (ModelManager.Lease lease = models.manager("other").acquire()) {
                assertThat(ServingFixtures.whichVersion(lease.model())).isEqualTo(7f);
            }
            ModelManager tiny = models.manager("tiny");
            ModelManager.Lease held = models.manager("other").acquire();
            models.close();
            assertThat(tiny.isClosed()).isTrue();
            assertThat(models.awaitRetired(java.time.Duration.ofSeconds(30))).isTrue();
            assertThat(ServingFixtures.whichVersion(held.model())).isEqualTo(7f);   // still leased: still open
            held.close();
            assertThat(models.awaitRetired(java.time.Duration.ofSeconds(30))).isTrue();
            assertThatThrownBy(() -> ServingFixtures.whichVersion(other)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> models.manager("new")).isInstanceOf(IllegalStateException.class);
        }
    }
}
