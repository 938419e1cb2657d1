package io.weightstream.bench;

/**
 * A model as the report's models table shows it.
 *
 * <pre>{@code
 * report.models().forEach(m -> System.out.println(m.id() + ": " + m.fileBytes() + " bytes, " + m.baseline()));
 * }</pre>
 *
 * @param id          model id
 * @param description one line
 * @param fileName    the checkpoint's file name
 * @param fileBytes   its size
 * @param tensors     tensor count
 * @param tensorBytes bytes of all tensors
 * @param metric      the quality metric of its rows
 * @param baseline    what the metric was measured on, and the original's own score
 */
public record ModelInfo(String id, String description, String fileName, long fileBytes, int tensors, long tensorBytes,
                        String metric, String baseline) {
}
