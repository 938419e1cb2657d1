package io.weightstream.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * Requests acquire, use and release the served version in a loop on several threads while another thread swaps
 * hundreds of real (tiny) ONNX models in: no request may ever run on a closed model or on another version than its
 * lease says, every retired version must be closed exactly once and only after its last lease is released, and
 * nothing may leak.
 */
class ModelManagerStressTest {
    private static final int SWAPS = 300;
    private static final int REQUEST_THREADS = 6;

    @Test
    void closingInTheReleasingThread() throws Exception {
        run(Runnable::run);
    }

    @Test
    void closingInTheBackground() throws Exception {
        run(ModelManager.RETIRER);
    }

    private void run(java.util.concurrent.Executor retirer) throws Exception {
        Map<ServedModel, AtomicInteger> inUse = Collections.synchronizedMap(new IdentityHashMap<>());
        Map<ServedModel, AtomicInteger> closes = Collections.synchronizedMap(new IdentityHashMap<>());
        Set<ServedModel> retired = ConcurrentHashMap.newKeySet();
        List<String> violations = Collections.synchronizedList(new ArrayList<>());
        List<ServedModel> opened = Collections.synchronizedList(new ArrayList<>());

        ModelManager manager = new ModelManager("tiny", m -> {
            // the manager retires a version: nobody may still be using it, and it is the first time
            retired.add(m);
            int users = inUse.get(m).get();
            if (users != 0) {
                violations.add("version " + m.version() + " closed with " + users + " requests still on it");
            }
            closes.get(m).incrementAndGet();
            m.close();
        }, retirer);
        ServedModel first = open(1, opened, inUse, closes);
        manager.swap(first);

        AtomicBoolean swapping = new AtomicBoolean(true);
        AtomicLong requests = new AtomicLong();
        AtomicLong failures = new AtomicLong();
        CountDownLatch started = new CountDownLatch(REQUEST_THREADS);
        ExecutorService pool = Executors.newFixedThreadPool(REQUEST_THREADS + 1);
        try {
            List<Future<Set<String>>> users = new ArrayList<>();
            for (int t = 0; t < REQUEST_THREADS; t++) {
                int thread = t;
                users.add(pool.submit(() -> {
                    Set<String> versionsSeen = new HashSet<>();
                    started.countDown();
                    long n = 0;
                    while (swapping.get()) {
                        try (ModelManager.Lease lease = manager.acquire()) {
                            ServedModel m = lease.model();
                            inUse.get(m).incrementAndGet();
                            try {
                                if (retired.contains(m)) {
                                    violations.add("request saw retired version " + m.version());
                                }
                                float ran = ServingFixtures.whichVersion(m);
                                if (ran != Float.parseFloat(lease.info().version())) {
                                    violations.add("lease on " + lease.info().version() + " ran version " + ran);
                                }
                                versionsSeen.add(m.version());
                                if ((n++ + thread) % 7 == 0) {
                                    // hold some leases across swaps, as slow requests do
                                    LockSupport.parkNanos(200_000);
                                    ServingFixtures.whichVersion(m);
                                }
                            } finally {
                                inUse.get(m).decrementAndGet();
                            }
                        } catch (RuntimeException e) {
                            failures.incrementAndGet();
                            violations.add("request failed: " + e);
                        }
                        requests.incrementAndGet();
                    }
                    return versionsSeen;
                }));
            }
            Future<?> swapper = pool.submit(() -> {
                started.await();
                try {
                    for (int v = 2; v <= SWAPS + 1; v++) {
                        // load before swap: the manager only ever sees complete versions
                        ServedModel next = open(v, opened, inUse, closes);
                        ServedModel.Info info = manager.swap(next);
                        if (!info.version().equals(Integer.toString(v))) {
                            violations.add("swap returned " + info.version() + " for " + v);
                        }
                    }
                } finally {
                    swapping.set(false);
                }
                return null;
            });
            swapper.get(120, TimeUnit.SECONDS);
            Set<String> allSeen = new HashSet<>();
            for (Future<Set<String>> u : users) {
                Set<String> seen = u.get(60, TimeUnit.SECONDS);
                assertThat(seen).as("each request thread saw several versions").hasSizeGreaterThan(1);
                allSeen.addAll(seen);
            }
            assertThat(allSeen.size()).isGreaterThan(10);
        } finally {
            swapping.set(false);
            pool.shutdownNow();
            assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
        }

        assertThat(manager.awaitRetired(java.time.Duration.ofSeconds(60))).isTrue();
        assertThat(violations).isEmpty();
        assertThat(failures.get()).isZero();
        assertThat(requests.get()).isGreaterThan(SWAPS);
        assertThat(manager.swaps()).isEqualTo(SWAPS + 1);
        assertThat(opened).hasSize(SWAPS + 1);
        ServedModel last = opened.get(opened.size() - 1);
        for (ServedModel m : opened) {
            int expected = m == last ? 0 : 1;
            assertThat(closes.get(m).get()).as("closes of version %s", m.version()).isEqualTo(expected);
            assertThat(inUse.get(m).get()).isZero();
        }
        assertThat(manager.current().orElseThrow().version()).isEqualTo(Integer.toString(SWAPS + 1));
        assertThat(manager.leasesInFlight()).isZero();
        try (ModelManager.Lease lease = manager.acquire()) {
            assertThat(lease.model()).isSameAs(last);
            assertThat(ServingFixtures.whichVersion(last)).isEqualTo(SWAPS + 1f);   // the final version is open
        }

        manager.close();
        assertThat(manager.awaitRetired(java.time.Duration.ofSeconds(60))).isTrue();
        int closed = 0;
        for (ServedModel m : opened) {
            assertThat(closes.get(m).get()).isEqualTo(1);
            closed += closes.get(m).get();
        }
        assertThat(closed).as("opens == closes: nothing leaked").isEqualTo(opened.size());
        assertThatThrownBy(() -> ServingFixtures.whichVersion(last)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(manager::acquire).isInstanceOf(NoModelServingException.class);
    }

    private static ServedModel open(int version, List<ServedModel> opened, Map<ServedModel, AtomicInteger> inUse,
            Map<ServedModel, AtomicInteger> closes) {
        ServedModel m = ServingFixtures.tiny("tiny", version);
        inUse.put(m, new AtomicInteger());
        closes.put(m, new AtomicInteger());
        opened.add(m);
        return m;
    }
}
