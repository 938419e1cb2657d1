package io.weightstream.stack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The few calls of Flink's REST API that the stack needs: what the JobManager knows of its TaskManagers and jobs,
 * a job's checkpoints and restarts, and cancelling a job. Plain HTTP and JSON, so it works against any Flink 2.x
 * JobManager, the local one or one in Kubernetes behind a port-forward.
 *
 * <pre>{@code
 * FlinkRest rest = new FlinkRest("http://127.0.0.1:8081");
 * rest.taskManagers().forEach(tm -> System.out.println(tm.id() + " " + tm.freeSlots() + "/" + tm.slots()));
 * for (FlinkRest.Job job : rest.jobs()) { ... job.state() ... }
 * }</pre>
 */
public final class FlinkRest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final String url;
    private final HttpClient http;

    /** @param url the REST base URL, {@code http://host:port} (a trailing slash is dropped) */
    public FlinkRest(String url) {
        Objects.requireNonNull(url, "url");
        URI u = URI.create(url);
        if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme()) || u.getHost() == null) {
            throw new IllegalArgumentException("a Flink REST URL looks like http://127.0.0.1:8081, got '" + url + "'");
        }
        this.url = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).version(HttpClient.Version.HTTP_1_1).build();
    }

    public String url() {
        return url;
    }

    /** What {@code GET /overview} says. */
    public record Overview(int taskManagers, int slotsTotal, int slotsAvailable, int jobsRunning, String flinkVersion) {
    }

    /**
     * A registered TaskManager.
     *
     * @param id                 its resource id ({@code taskmanager-1} on the local stack)
     * @param slots              task slots
     * @param freeSlots          slots not in use
     * @param externalResources  declared external resources and their amounts, e.g. {@code gpu=1.0}
     */
    public record TaskManager(String id, int slots, int freeSlots, Map<String, Double> externalResources) {
        public TaskManager {
            externalResources = Map.copyOf(externalResources);
        }
    }

    /** A job of {@code GET /jobs/overview}: state as Flink names it ({@code RUNNING}, {@code RESTARTING}, ...). */
    public record Job(String id, String name, String state, long startTime, int runningTasks, int totalTasks) {
        /** Whether the job runs and every one of its tasks runs (not deploying, not restarting). */
        public boolean fullyRunning() {
            return "RUNNING".equals(state) && totalTasks > 0 && runningTasks == totalTasks;
        }
    }

    /**
     * A job's checkpoint counts and the newest completed and restored checkpoints.
     *
     * @param latestCompletedPath the externalized path of the newest completed checkpoint, empty when none
     * @param restoredId          the checkpoint the job last restored from, empty when it never restored
     */
    public record Checkpoints(long completed, long failed, long restored, OptionalLong latestCompletedId,
                              String latestCompletedPath, long latestCompletedAt, OptionalLong restoredId) {
    }

    /** One vertex (operator chain) of a job and the TaskManagers its subtasks run on. */
    public record Vertex(String id, String name, int parallelism, List<String> taskManagers) {
        public Vertex {
            taskManagers = List.copyOf(taskManagers);
        }
    }

    /** Whether {@code GET /overview} answers 200 now. */
    public boolean answers() {
        try {
            return send(HttpRequest.newBuilder(URI.create(url + "/overview")).timeout(Duration.ofSeconds(2)).GET().build())
                    .statusCode() == 200;
        } catch (StackException e) {
            return false;
        }
    }

    public Overview overview() {
        JsonNode n = get("/overview");
        return new Overview(n.path("taskmanagers").asInt(), n.path("slots-total").asInt(), n.path("slots-available").asInt(),
                n.path("jobs-running").asInt(), n.path("flink-version").asText(""));
    }

    public List<TaskManager> taskManagers() {
        List<TaskManager> out = new ArrayList<>();
        for (JsonNode tm : get("/taskmanagers").path("taskmanagers")) {
            Map<String, Double> resources = new LinkedHashMap<>();
            tm.path("totalResource").path("extendedResources").fields()
                    .forEachRemaining(e -> resources.put(e.getKey(), e.getValue().asDouble()));
            out.add(new TaskManager(tm.path("id").asText(), tm.path("slotsNumber").asInt(), tm.path("freeSlots").asInt(), resources));
        }
        return out;
    }

    /** Every job the JobManager knows, running or finished, newest first. */
    public List<Job> jobs() {
        List<Job> out = new ArrayList<>();
        for (JsonNode j : get("/jobs/overview").path("jobs")) {
            out.add(job(j));
        }
        out.sort((a, b) -> Long.compare(b.startTime(), a.startTime()));
        return out;
    }

    /** The job {@code id}, if the JobManager knows it. */
    public Optional<Job> job(String id) {
        return jobs().stream().filter(j -> j.id().equals(id)).findFirst();
    }

    public Checkpoints checkpoints(String jobId) {
        JsonNode n = get("/jobs/" + jobId + "/checkpoints");
        JsonNode counts = n.path("counts");
        JsonNode completed = n.path("latest").path("completed");
        JsonNode restored = n.path("latest").path("restored");
        return new Checkpoints(counts.path("completed").asLong(), counts.path("failed").asLong(), counts.path("restored").asLong(),
                completed.isObject() ? OptionalLong.of(completed.path("id").asLong()) : OptionalLong.empty(),
                completed.path("external_path").asText(""), completed.path("latest_ack_timestamp").asLong(),
                restored.isObject() ? OptionalLong.of(restored.path("id").asLong()) : OptionalLong.empty());
    }

    /** How often the job restarted (its {@code numRestarts} metric); 0 when the metric is not reported yet. */
    public long restarts(String jobId) {
        for (JsonNode m : get("/jobs/" + jobId + "/metrics?get=numRestarts")) {
            if ("numRestarts".equals(m.path("id").asText())) {
                return m.path("value").asLong();
            }
        }
        return 0;
    }

    /** The job's vertices with the TaskManagers their subtasks are deployed to (ids, as in {@link #taskManagers()}). */
    public List<Vertex> vertices(String jobId) {
        List<Vertex> out = new ArrayList<>();
        for (JsonNode v : get("/jobs/" + jobId).path("vertices")) {
            String vid = v.path("id").asText();
            List<String> tms = new ArrayList<>();
            for (JsonNode tm : get("/jobs/" + jobId + "/vertices/" + vid + "/taskmanagers").path("taskmanagers")) {
                tms.add(tm.path("taskmanager-id").asText());
            }
            out.add(new Vertex(vid, v.path("name").asText(), v.path("parallelism").asInt(), tms));
        }
        return out;
    }

    /** Asks the JobManager to cancel the job (it keeps its last checkpoint: retention is RETAIN_ON_CANCELLATION). */
    public void cancel(String jobId) {
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(url + "/jobs/" + jobId + "?mode=cancel")).timeout(TIMEOUT)
                .method("PATCH", HttpRequest.BodyPublishers.noBody()).build());
        if (r.statusCode() != 202 && r.statusCode() != 200) {
            throw new StackException("cancelling job " + jobId + " at " + url + " answered HTTP " + r.statusCode() + ": " + r.body());
        }
    }

    private static Job job(JsonNode j) {
        JsonNode tasks = j.path("tasks");
        int total = tasks.path("total").asInt();
        return new Job(j.path("jid").asText(), j.path("name").asText(), j.path("state").asText(), j.path("start-time").asLong(),
                tasks.path("running").asInt(), total);
    }

    private JsonNode get(String path) {
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(url + path)).timeout(TIMEOUT).GET().build());
        if (r.statusCode() != 200) {
            throw new StackException("GET " + url + path + " answered HTTP " + r.statusCode() + ": " + r.body());
        }
        try {
            return JSON.readTree(r.body());
        } catch (IOException e) {
            throw new StackException("GET " + url + path + " answered with something that is not JSON: " + e.getMessage(), e);
        }
    }

    private HttpResponse<String> send(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new StackException("the Flink JobManager at " + url + " does not answer " + request.method() + " "
                    + request.uri().getPath() + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted", e);
        }
    }
}
