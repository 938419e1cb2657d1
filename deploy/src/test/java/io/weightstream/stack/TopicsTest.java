package io.weightstream.stack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class TopicsTest {
    @Test
    void specsCoverEveryTopicOnce() {
        assertThat(Topics.specs()).extracting(TopicSpec::name).containsExactlyElementsOf(Topics.ALL);
        assertThat(Topics.ALL).doesNotHaveDuplicates().allMatch(t -> t.startsWith("weightstream."));
    }

    @Test
    void chunkTopicsTakeTheGivenPartitionsAndTheOthersOne() {
        Map<String, TopicSpec> specs = Topics.specs(8).stream().collect(Collectors.toMap(TopicSpec::name, Function.identity()));
        assertThat(specs.get(Topics.LAYERS).partitions()).isEqualTo(8);
        assertThat(specs.get(Topics.COMPRESSED).partitions()).isEqualTo(8);
        for (String t : List.of(Topics.CHECKPOINTS, Topics.VERSIONS, Topics.FLEET, Topics.DLQ)) {
            assertThat(specs.get(t).partitions()).as(t).isEqualTo(1);
        }
        assertThatThrownBy(() -> Topics.specs(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theDeadLetterTopicIsNeverCompactedAndCarriesLargeRecords() {
        TopicSpec dlq = Topics.specs().stream().filter(s -> s.name().equals(Topics.DLQ)).findFirst().orElseThrow();
        assertThat(dlq.configs()).containsEntry("cleanup.policy", "delete")
                .containsEntry("max.message.bytes", Integer.toString(Topics.CHUNK_TOPIC_MAX_MESSAGE_BYTES));
    }

    @Test
    void chunkLimitsFitUnderTheBrokerLimit() {
        assertThat(Topics.CHUNK_TOPIC_MAX_MESSAGE_BYTES).isLessThanOrEqualTo(KafkaBroker.MAX_MESSAGE_BYTES);
        assertThat(Topics.CHUNK_TOPIC_MAX_MESSAGE_BYTES).isGreaterThan(1 << 20); // a 1 MiB chunk plus its record fields
    }

    @Test
    void valueSubjectFollowsTheTopicNameStrategy() {
        assertThat(Topics.valueSubject(Topics.LAYERS)).isEqualTo("weightstream.layers-value");
    }

    @Test
    void topicSpecValidatesItsInput() {
        assertThatThrownBy(() -> new TopicSpec(" ", 1, Map.of())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new TopicSpec("t", 0, Map.of())).hasMessageContaining("partitions");
        assertThat(new TopicSpec("t", 1, Map.of()).withPartitions(3).partitions()).isEqualTo(3);
    }
}
