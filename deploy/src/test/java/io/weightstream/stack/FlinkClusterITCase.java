package io.weightstream.stack;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real Flink standalone cluster of separate processes from the staged lib/: JobManager and TaskManagers register,
 * listen on 127.0.0.1 only, a GPU TaskManager declares the {@code gpu} external resource, and closing stops every
 * process by PID.
 */
class FlinkClusterITCase {
    @TempDir
    Path dir;

    @Test
    void aJobManagerAndTwoTaskManagersRegisterOnLoopbackAndStopByPid() throws IOException {
        FlinkCluster flink;
        long t0 = System.nanoTime();
        try (FlinkCluster cluster = FlinkCluster.builder().workDir(dir).taskManagers(2).slots(2).start()) {
            flink = cluster;
            System.out.printf("FlinkClusterITCase: JobManager + 2 TaskManagers registered in %d ms%n",
                    (System.nanoTime() - t0) / 1_000_000);
            FlinkRest rest = cluster.rest();
            assertThat(cluster.restUrl()).startsWith("http://127.0.0.1:");
            FlinkRest.Overview overview = rest.overview();
            assertThat(overview.taskManagers()).isEqualTo(2);
            assertThat(overview.slotsTotal()).isEqualTo(4);
            assertThat(overview.flinkVersion()).isEqualTo(FlinkCluster.JvmOptions.flinkVersion());
            assertThat(rest.taskManagers()).extracting(FlinkRest.TaskManager::id)
                    .containsExactlyInAnyOrder("taskmanager-1", "taskmanager-2");
            assertThat(rest.taskManagers()).allSatisfy(tm -> assertThat(tm.externalResources()).isEmpty());
            assertThat(cluster.taskManagers()).containsOnlyKeys("taskmanager-1", "taskmanager-2");
            // separate processes, each marked so that `stack status` recognises it by PID
            assertThat(List.of(cluster.jobManager().pid(), cluster.taskManager("taskmanager-1").pid(),
                    cluster.taskManager("taskmanager-2").pid())).doesNotHaveDuplicates().doesNotContain(ProcessHandle.current().pid());
            assertThat(ProcessHandle.of(cluster.taskManager("taskmanager-1").pid()).orElseThrow().info().arguments().orElseThrow())
                    .contains(ServerProcess.markerOption("taskmanager-1@" + dir.toAbsolutePath().normalize()))
                    .contains("org.apache.flink.runtime.taskexecutor.TaskManagerRunner")
                    // the inr codec's DJL never downloads in a TaskManager, and PyTorch runs one OpenMP thread per op
                    .contains("-Dai.djl.offline=true");
            assertThat(Files.readString(Path.of("/proc", Long.toString(cluster.taskManager("taskmanager-2").pid()), "environ"))
                    .split("\0")).contains("OMP_NUM_THREADS=1");
            // loopback only: the REST port does not answer on this machine's other addresses
            for (InetAddress a : otherAddresses()) {
                assertThat(connects(a, cluster.restPort())).as("REST port on " + a).isFalse();
            }
            assertThat(Files.readString(dir.resolve("conf/config.yaml")))
                    .contains("execution.checkpointing.dir: " + FlinkCluster.fileUri(dir.resolve("checkpoints")));
        }
        assertThat(ProcessHandle.of(flink.jobManager().pid()).filter(ProcessHandle::isAlive)).isEmpty();
        for (ServerProcess tm : flink.taskManagers().values()) {
            assertThat(ProcessHandle.of(tm.pid()).filter(ProcessHandle::isAlive)).as(tm.name()).isEmpty();
        }
        assertThat(Ports.isFree(flink.restPort())).isTrue();
    }

    @Test
    void theStagedLibHoldsDjlWithThePyTorchCpuLibraryAndLoadsItOffline() throws Exception {
        // the job jar leaves ai.djl:* out: PyTorch's native library must be loaded once, by lib/'s class loader
        List<String> jars;
        try (var files = Files.list(StackHome.locate().flinkLib())) {
            jars = files.map(f -> f.getFileName().toString()).sorted().toList();
        }
        for (String artifact : List.of("api-", "pytorch-engine-", "pytorch-jni-", "pytorch-native-cpu-")) {
            assertThat(jars).as(artifact).filteredOn(j -> j.startsWith(artifact)).hasSize(1);
        }
        assertThat(jars).filteredOn(j -> j.startsWith("pytorch-native-cpu-")).singleElement().asString().endsWith("-linux-x86_64.jar");
        assertThat(jars).as("one version of each jar").filteredOn(j -> j.startsWith("commons-compress-")).hasSize(1);

        // a JVM with a TaskManager's class path, system properties and environment loads PyTorch without a download
        Path check = dir.resolve("DjlCheck.java");
        Files.writeString(check, String.join("\n",
                "public class DjlCheck {",
                "  public static void main(String[] a) throws Exception {",
                "    ai.djl.engine.Engine e = ai.djl.engine.Engine.getEngine(\"PyTorch\");",
                "    try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {",
                "      System.out.println(\"engine=\" + e.getEngineName() + \" \" + e.getVersion()",
                "          + \" sum=\" + m.create(new float[] {1, 2, 3}).sum().getFloat());",
                "    }",
                "  }",
                "}", ""));
        List<String> cmd = new java.util.ArrayList<>(List.of(ServerProcess.javaBinary()));
        cmd.addAll(FlinkCluster.TASK_MANAGER_PROPERTIES);
        cmd.addAll(List.of("-cp", StackHome.locate().flinkLib() + "/*", check.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().putAll(FlinkCluster.TASK_MANAGER_ENV);
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor(2, java.util.concurrent.TimeUnit.MINUTES)).isTrue();
        assertThat(out).as("DjlCheck's output").contains("engine=PyTorch 2.7.1 sum=6.0");
        assertThat(p.exitValue()).isZero();
    }

    @Test
    void aGpuTaskManagerDeclaresTheGpuResourceThroughOurDriver() throws IOException {
        // no GPU on this machine: the device index is given, so the driver does not probe (it would run nvidia-smi)
        try (FlinkCluster cluster = FlinkCluster.builder().workDir(dir).taskManagers(1).gpuTaskManagers(1)
                .gpuIndices(List.of("0")).slots(1).start()) {
            Map<String, FlinkRest.TaskManager> tms = new java.util.HashMap<>();
            cluster.rest().taskManagers().forEach(tm -> tms.put(tm.id(), tm));
            assertThat(tms).containsOnlyKeys("taskmanager-1", "taskmanager-gpu-1");
            assertThat(tms.get("taskmanager-gpu-1").externalResources()).containsEntry(FlinkCluster.GPU_RESOURCE, 1.0);
            assertThat(tms.get("taskmanager-1").externalResources()).isEmpty();
            String log = Files.readString(dir.resolve("taskmanager-gpu-1.log"));
            // the driver plugin was found, instantiated and gave the TaskManager its GPU: Flink only logs when one of
            // these steps fails (ExternalResourceUtils), and the TaskManager starts anyway
            assertThat(log).contains("external-resources=\"gpu\"")
                    .doesNotContain("Could not find driver class name for gpu")
                    .doesNotContain("Could not find factory class")
                    .doesNotContain("Could not instantiate driver")
                    .doesNotContain("Failed to retrieve information of external resource gpu");
        }
    }

    private static List<InetAddress> otherAddresses() throws IOException {
        return Collections.list(NetworkInterface.getNetworkInterfaces()).stream()
                .flatMap(NetworkInterface::inetAddresses)
                .filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress())
                .toList();
    }

    private static boolean connects(InetAddress address, int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(address, port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
