package io.weightstream.job;

import io.weightstream.codec.Codecs;
import io.weightstream.registry.RegistryAvroSerializationSchema;
import io.weightstream.schemas.CompressedLayerChunk;
import io.weightstream.schemas.DeadLetter;
import io.weightstream.schemas.ModelVersionCompressed;
import io.weightstream.stack.Topics;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.operators.SlotSharingGroup;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalResourceOptions;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.RecoveryClaimMode;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The compression job (DESIGN.md, flow step 2): one source over {@code weightstream.checkpoints} and
 * {@code weightstream.layers} (read_committed) -> {@link InputRouter} (manifests exploded into one expected tensor
 * per entry) -> {@link ChunkAssembler} keyed by {@code model/version/tensor} -> {@link TensorCompressOperator} ->
 * {@code weightstream.compressed}; manifests and tensor outcomes -> {@link VersionTracker} keyed by
 * {@code model/version} -> {@code weightstream.versions}; dead letters of every stage -> {@code weightstream.dlq}.
 * Checkpointing EXACTLY_ONCE, Kafka sinks EXACTLY_ONCE (transactions committed on each checkpoint).
 *
 * <p>Sources and sinks come in through the constructor, so tests run the same topology on in-memory data;
 * {@link #kafka(Configuration)} wires the real ones. Methods named in {@code gpu.methods} (when their codec is on the
 * class path) are compressed by a second compress operator in the slot-sharing group {@value #GPU_GROUP}.
 *
 * <pre>{@code
 * Configuration options = CompressionJobOptions.parse(Map.of("bootstrap.servers", bootstrap, "registry.url", url));
 * StreamExecutionEnvironment env = CompressionJob.localEnvironment(options);   // or getExecutionEnvironment()
 * JobClient client = CompressionJob.kafka(options).executeAsync(env);
 * }</pre>
 */
public final class CompressionJob {
    /** The slot-sharing group of the compress operator for GPU methods. */
    public static final String GPU_GROUP = "gpu";
    private static final Logger LOG = LoggerFactory.getLogger(CompressionJob.class);
    /** Largest Kafka record the job reads or writes (the topics' max.message.bytes). */
    public static final int MAX_RECORD_BYTES = Topics.CHUNK_TOPIC_MAX_MESSAGE_BYTES;

    private final Source<JobInput, ?, ?> source;
    private final Sink<CompressedLayerChunk> compressedSink;
    private final Sink<ModelVersionCompressed> versionSink;
    private final Sink<DeadLetter> deadLetterSink;
    private final Configuration options;

    /**
     * @param options the {@link CompressionJobOptions} (endpoints are not needed here)
     * @throws IllegalArgumentException if an option value is out of range
     */
    public CompressionJob(Source<JobInput, ?, ?> source, Sink<CompressedLayerChunk> compressedSink,
                          Sink<ModelVersionCompressed> versionSink, Sink<DeadLetter> deadLetterSink,
                          Configuration options) {
        this.source = Objects.requireNonNull(source, "source");
        this.compressedSink = Objects.requireNonNull(compressedSink, "compressedSink");
        this.versionSink = Objects.requireNonNull(versionSink, "versionSink");
        this.deadLetterSink = Objects.requireNonNull(deadLetterSink, "deadLetterSink");
        this.options = new Configuration(Objects.requireNonNull(options, "options"));
        List<String> problems = CompressionJobOptions.checkValues(this.options);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("compression job options: " + String.join("; ", problems));
        }
    }

    /**
     * The job on Kafka: {@link #kafkaSource}, and {@link #kafkaSink}s to the compressed, versions and dead-letter
     * topics.
     *
     * @throws IllegalArgumentException if the endpoints are missing or an option is wrong
     */
    public static CompressionJob kafka(Configuration options) {
        CompressionJobOptions.validate(options);
        Map<String, String> registry = CompressionJobOptions.registryConfig(options);
        String prefix = options.get(CompressionJobOptions.TRANSACTIONAL_ID_PREFIX);
        return new CompressionJob(kafkaSource(options),
                kafkaSink(options, Topics.COMPRESSED, prefix + "-compressed", new CompressedKey(),
                        RegistryAvroSerializationSchema.forValue(CompressedLayerChunk.class, Topics.COMPRESSED, registry)),
                kafkaSink(options, Topics.VERSIONS, prefix + "-versions", new VersionKey(),
                        RegistryAvroSerializationSchema.forValue(ModelVersionCompressed.class, Topics.VERSIONS, registry)),
                kafkaSink(options, Topics.DLQ, prefix + "-dlq", new DeadLetterKey(),
                        RegistryAvroSerializationSchema.forValue(DeadLetter.class, Topics.DLQ, registry)),
                options);
    }

    /** The one source: checkpoints and layers, read_committed, fetch sizes for 16 MiB records; never fails on a record. */
    public static KafkaSource<JobInput> kafkaSource(Configuration options) {
        String group = options.get(CompressionJobOptions.GROUP_ID);
        OffsetsInitializer start = switch (options.get(CompressionJobOptions.STARTING_OFFSETS)) {
            case COMMITTED -> OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST);
            case EARLIEST -> OffsetsInitializer.earliest();
            case LATEST -> OffsetsInitializer.latest();
        };
        return KafkaSource.<JobInput>builder()
                .setBootstrapServers(options.get(CompressionJobOptions.BOOTSTRAP_SERVERS))
                .setTopics(Topics.CHECKPOINTS, Topics.LAYERS)
                .setGroupId(group)
                .setClientIdPrefix(group)
                .setStartingOffsets(start)
                .setDeserializer(new JobInputDeserializer(CompressionJobOptions.registryConfig(options),
                        Topics.CHECKPOINTS, Topics.LAYERS))
                // a checkpoint is visible whole or not at all: never read an open or aborted transaction
                .setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed")
                .setProperty(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(MAX_RECORD_BYTES))
                .setProperty(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Integer.toString(4 * MAX_RECORD_BYTES))
                .setProperty("partition.discovery.interval.ms", "60000")
                .build();
    }

    /** An EXACTLY_ONCE sink to {@code topic}: transactions committed on checkpoints, records up to 16 MiB. */
    public static <T> KafkaSink<T> kafkaSink(Configuration options, String topic, String transactionalIdPrefix,
                                             SerializationSchema<T> key, SerializationSchema<T> value) {
        return KafkaSink.<T>builder()
                .setBootstrapServers(options.get(CompressionJobOptions.BOOTSTRAP_SERVERS))
                .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                .setTransactionalIdPrefix(transactionalIdPrefix)
                .setProperty(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG,
                        Long.toString(options.get(CompressionJobOptions.TRANSACTION_TIMEOUT).toMillis()))
                .setProperty(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(MAX_RECORD_BYTES))
                .setProperty(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString((1 << 20) + (64 << 10)))
                .setProperty(ProducerConfig.LINGER_MS_CONFIG, "5")
                .setProperty(ProducerConfig.BUFFER_MEMORY_CONFIG, Long.toString(64L << 20))
                .setProperty(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none") // the payloads are compressed already
                .setRecordSerializer(KafkaRecordSerializationSchema.<T>builder()
                        .setTopic(topic)
                        .setKeySerializationSchema(key)
                        .setValueSerializationSchema(value)
                        .build())
                .build();
    }

    /**
     * A local environment (an embedded MiniCluster) for these options: enough slots for the slot-sharing groups,
     * file checkpoints under {@link #localCheckpointDir} (the JobManager's memory holds 5 MiB of state at most, and a
     * tensor being assembled is larger), kept when the job is cancelled; with {@code local.resume} the job starts from
     * the newest checkpoint found there ({@link #latestCheckpoint}).
     */
    public static StreamExecutionEnvironment localEnvironment(Configuration options) {
        int parallelism = options.get(CompressionJobOptions.PARALLELISM);
        Configuration conf = new Configuration();
        conf.set(TaskManagerOptions.NUM_TASK_SLOTS, parallelism * (gpuMethods(options).isEmpty() ? 1 : 2));
        URI dir = localCheckpointDir(options);
        conf.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
        conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, dir.toString());
        conf.set(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        if (options.get(CompressionJobOptions.LOCAL_RESUME)) {
            latestCheckpoint(dir).ifPresent(chk -> {
                LOG.info("resuming the compression job from checkpoint {}", chk);
                conf.set(StateRecoveryOptions.SAVEPOINT_PATH, chk.toUri().toString());
                // the new job owns it: Flink deletes it once a newer checkpoint subsumes it
                conf.set(StateRecoveryOptions.RESTORE_MODE, RecoveryClaimMode.CLAIM);
            });
        }
        return StreamExecutionEnvironment.createLocalEnvironment(parallelism, conf);
    }

    /** {@code checkpoint.dir}, else {@code java.io.tmpdir/weightstream-checkpoints/<group.id>}. */
    public static URI localCheckpointDir(Configuration options) {
        String dir = options.get(CompressionJobOptions.CHECKPOINT_DIR);
        if (dir != null && !dir.isBlank()) {
            return URI.create(dir);
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "weightstream-checkpoints",
                options.get(CompressionJobOptions.GROUP_ID)).toUri();
    }

    /**
     * The newest complete checkpoint ({@code <job id>/chk-<n>/_metadata}) under a local checkpoint directory; empty
     * when there is none or the directory is not a local one.
     */
    public static Optional<Path> latestCheckpoint(URI checkpointDir) {
        if (!"file".equals(checkpointDir.getScheme())) {
            return Optional.empty();
        }
        Path root = Path.of(checkpointDir);
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> jobs = Files.list(root)) {
            return jobs.filter(Files::isDirectory)
                    .flatMap(job -> {
                        try (Stream<Path> chks = Files.list(job)) {
                            return chks.filter(c -> c.getFileName().toString().startsWith("chk-")
                                    && Files.isRegularFile(c.resolve("_metadata"))).toList().stream();
                        } catch (IOException e) {
                            return Stream.empty();
                        }
                    })
                    .max(Comparator.comparingLong(CompressionJob::modified));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static long modified(Path chk) {
        try {
            return Files.getLastModifiedTime(chk.resolve("_metadata")).toMillis();
        } catch (IOException e) {
            return Long.MIN_VALUE;
        }
    }

    /** The methods of {@code gpu.methods} whose codec is on the class path: the GPU branch exists when non-empty. */
    static Set<String> gpuMethods(Configuration options) {
        Set<String> out = new TreeSet<>();
        for (String m : options.get(CompressionJobOptions.GPU_METHODS)) {
            if (!m.isBlank() && Codecs.find(m.trim()).isPresent()) {
                out.add(m.trim());
            }
        }
        return out;
    }

    /** Configures {@code env} (parallelism, checkpointing, object reuse) and adds the job's operators to it. */
    public void build(StreamExecutionEnvironment env) {
        env.setParallelism(options.get(CompressionJobOptions.PARALLELISM));
        env.enableCheckpointing(options.get(CompressionJobOptions.CHECKPOINT_INTERVAL).toMillis(),
                CheckpointingMode.EXACTLY_ONCE);
        String dir = options.get(CompressionJobOptions.CHECKPOINT_DIR);
        if (dir != null && !dir.isBlank()) {
            Configuration storage = new Configuration();
            storage.set(CheckpointingOptions.CHECKPOINT_STORAGE, "filesystem");
            storage.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, dir);
            env.configure(storage);
        }
        // operators never change a record after emitting it, so chained operators may share them (no deep copy
        // of tensors of up to max.tensor.bytes between the assembler and the compressor)
        env.getConfig().enableObjectReuse();

        DataStream<JobInput> input = env.fromSource(source, WatermarkStrategy.noWatermarks(),
                "kafka: checkpoints + layers", TypeInformation.of(JobInput.class)).uid("source");
        SingleOutputStreamOperator<AssemblerInput> routed = input.process(new InputRouter(),
                TypeInformation.of(AssemblerInput.class)).name("route").uid("route");
        SingleOutputStreamOperator<AssembledTensor> assembled = routed
                .keyBy(AssemblerInput::key, Types.STRING)
                .process(new ChunkAssembler(options.get(CompressionJobOptions.MAX_TENSOR_BYTES).getBytes(),
                        options.get(CompressionJobOptions.ASSEMBLY_TIMEOUT).toMillis()),
                        TypeInformation.of(AssembledTensor.class))
                .name("assemble").uid("assemble");

        int chunkBytes = (int) options.get(CompressionJobOptions.COMPRESSED_CHUNK_BYTES).getBytes();
        List<SingleOutputStreamOperator<CompressedLayerChunk>> compressors = new ArrayList<>();
        Set<String> gpu = gpuMethods(options);
        if (gpu.isEmpty()) {
            compressors.add(assembled.process(new TensorCompressOperator(chunkBytes),
                    TypeInformation.of(CompressedLayerChunk.class)).name("compress").uid("compress"));
        } else {
            compressors.add(assembled.filter(new GpuMethodFilter(gpu, false)).name("cpu methods").uid("cpu-methods")
                    .process(new TensorCompressOperator(chunkBytes), TypeInformation.of(CompressedLayerChunk.class))
                    .name("compress").uid("compress"));
            SingleOutputStreamOperator<AssembledTensor> gpuTensors = assembled
                    .filter(new GpuMethodFilter(gpu, true)).name("gpu methods " + gpu).uid("gpu-methods");
            compressors.add(gpuTensors
                    .process(new TensorCompressOperator(chunkBytes), TypeInformation.of(CompressedLayerChunk.class))
                    .name("compress (" + GPU_GROUP + ")").uid("compress-gpu")
                    .slotSharingGroup(gpuGroup(options, env.getConfiguration())));
        }

        DataStream<CompressedLayerChunk> compressed = compressors.get(0);
        List<DataStream<VersionEvent>> events = new ArrayList<>();
        List<DataStream<DeadLetter>> deadLetters = new ArrayList<>();
        events.add(assembled.getSideOutput(SideOutputs.TENSOR_OUTCOMES).map(VersionEvent::outcome)
                .returns(VersionEvent.class).name("assembly failures"));
        deadLetters.add(routed.getSideOutput(SideOutputs.DEAD_LETTERS));
        deadLetters.add(assembled.getSideOutput(SideOutputs.DEAD_LETTERS));
        for (int i = 0; i < compressors.size(); i++) {
            SingleOutputStreamOperator<CompressedLayerChunk> c = compressors.get(i);
            if (i > 0) {
                compressed = compressed.union(c);
            }
            events.add(c.getSideOutput(SideOutputs.TENSOR_OUTCOMES).map(VersionEvent::outcome)
                    .returns(VersionEvent.class).name("tensor outcomes"));
            deadLetters.add(c.getSideOutput(SideOutputs.DEAD_LETTERS));
        }
        compressed.sinkTo(compressedSink).name("sink: " + Topics.COMPRESSED).uid("sink-compressed");

        DataStream<VersionEvent> versionEvents = routed.getSideOutput(SideOutputs.MANIFESTS)
                .map(VersionEvent::manifest).returns(VersionEvent.class).name("manifests");
        for (DataStream<VersionEvent> e : events) {
            versionEvents = versionEvents.union(e);
        }
        SingleOutputStreamOperator<ModelVersionCompressed> versions = versionEvents
                .keyBy(VersionEvent::key, Types.STRING)
                .process(new VersionTracker(options.get(CompressionJobOptions.VERSION_TIMEOUT).toMillis(),
                        options.get(CompressionJobOptions.VERSION_RETENTION).toMillis(),
                        options.get(CompressionJobOptions.VERSION_MAX_RECORD_BYTES).getBytes()),
                        TypeInformation.of(ModelVersionCompressed.class))
                .name("track versions").uid("versions");
        versions.sinkTo(versionSink).name("sink: " + Topics.VERSIONS).uid("sink-versions");
        deadLetters.add(versions.getSideOutput(SideOutputs.DEAD_LETTERS));

        DataStream<DeadLetter> dlq = deadLetters.get(0);
        for (int i = 1; i < deadLetters.size(); i++) {
            dlq = dlq.union(deadLetters.get(i));
        }
        dlq.sinkTo(deadLetterSink).name("sink: " + Topics.DLQ).uid("sink-dlq");
    }

    /**
     * The {@value #GPU_GROUP} slot-sharing group: it requests the external resource {@value #GPU_GROUP} (1 per slot,
     * with 1 CPU core and 1 GiB task heap) when {@code gpu.resource=true} or when the environment's configuration
     * declares that resource ({@code external-resources} lists {@code gpu}, as a GPU task manager's does); otherwise it
     * is a plain group and its methods run on whatever slot they get (CPU training).
     */
    static SlotSharingGroup gpuGroup(Configuration options, ReadableConfig cluster) {
        if (!options.get(CompressionJobOptions.GPU_RESOURCE) && !declaresGpu(cluster)) {
            return SlotSharingGroup.newBuilder(GPU_GROUP).build();
        }
        // fine-grained resource management: the slot must come from a task manager with the external resource
        return SlotSharingGroup.newBuilder(GPU_GROUP).setCpuCores(1.0).setTaskHeapMemory(MemorySize.ofMebiBytes(1024))
                .setExternalResource(GPU_GROUP, 1.0).build();
    }

    /** Whether {@code external-resources} of this configuration lists {@value #GPU_GROUP}. */
    static boolean declaresGpu(ReadableConfig cluster) {
        return cluster != null && cluster.getOptional(ExternalResourceOptions.EXTERNAL_RESOURCE_LIST)
                .map(l -> l.stream().anyMatch(r -> GPU_GROUP.equals(r.trim()))).orElse(false);
    }

    /** Builds the job into {@code env} and runs it until it ends (an unbounded source: until cancelled). */
    public JobExecutionResult execute(StreamExecutionEnvironment env) throws Exception {
        build(env);
        return env.execute(options.get(CompressionJobOptions.JOB_NAME));
    }

    /** Builds the job into {@code env} and submits it; the client cancels it or waits for it. */
    public JobClient executeAsync(StreamExecutionEnvironment env) throws Exception {
        build(env);
        return env.executeAsync(options.get(CompressionJobOptions.JOB_NAME));
    }

    /** Key {@code model/tensor} of a compressed record (every version of a tensor on one partition, in order). */
    public static final class CompressedKey implements SerializationSchema<CompressedLayerChunk> {
        private static final long serialVersionUID = 1L;

        @Override
        public byte[] serialize(CompressedLayerChunk c) {
            return (c.getModel() + "/" + c.getTensor()).getBytes(StandardCharsets.UTF_8);
        }
    }

    /** Key {@code model/version} of a version record (the versions topic is compacted by it). */
    public static final class VersionKey implements SerializationSchema<ModelVersionCompressed> {
        private static final long serialVersionUID = 1L;

        @Override
        public byte[] serialize(ModelVersionCompressed v) {
            return (v.getModel() + "/" + v.getVersion()).getBytes(StandardCharsets.UTF_8);
        }
    }

    /** Key of a dead letter: the failed record's own key, else {@code model/version}, else none. */
    public static final class DeadLetterKey implements SerializationSchema<DeadLetter> {
        private static final long serialVersionUID = 1L;

        @Override
        public byte[] serialize(DeadLetter d) {
            if (d.getKey() != null) {
                ByteBuffer k = d.getKey().duplicate();
                byte[] out = new byte[k.remaining()];
                k.get(out);
                return out;
            }
            if (d.getModel() != null) {
                return (d.getModel() + "/" + d.getVersion()).getBytes(StandardCharsets.UTF_8);
            }
            return null;
        }
    }
}
