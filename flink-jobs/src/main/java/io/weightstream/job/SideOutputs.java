package io.weightstream.job;

import io.weightstream.schemas.CheckpointManifest;
import io.weightstream.schemas.DeadLetter;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.util.OutputTag;

/**
 * The side outputs of the job's operators: dead letters (to {@code weightstream.dlq}), tensor outcomes and
 * manifests (to {@link VersionTracker}).
 *
 * <pre>{@code
 * DataStream<DeadLetter> dlq = assembled.getSideOutput(SideOutputs.DEAD_LETTERS);
 * }</pre>
 */
public final class SideOutputs {
    public static final OutputTag<DeadLetter> DEAD_LETTERS =
            new OutputTag<>("dead-letters", TypeInformation.of(DeadLetter.class));
    public static final OutputTag<TensorOutcome> TENSOR_OUTCOMES =
            new OutputTag<>("tensor-outcomes", TypeInformation.of(TensorOutcome.class));
    public static final OutputTag<CheckpointManifest> MANIFESTS =
            new OutputTag<>("manifests", TypeInformation.of(CheckpointManifest.class));

    private SideOutputs() {
    }
}
