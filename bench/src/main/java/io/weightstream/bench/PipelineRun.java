package io.weightstream.bench;

/**
 * One version that went through the pipeline.
 *
 * <pre>{@code
 * report.pipeline().forEach(p -> System.out.println(p.version() + " " + p.publishToServingSeconds() + " s"));
 * }</pre>
 *
 * @param model                   model id
 * @param version                 version name
 * @param method                  codec
 * @param setting                 setting label
 * @param ratio                   the version's ratio as the replica reports it
 * @param publishToServingSeconds publish (first record written) to swapped in and serving
 * @param breakdown               the replica's per-step times ({@code VersionReport.toLine()})
 */
public record PipelineRun(String model, String version, String method, String setting, double ratio,
                          double publishToServingSeconds, String breakdown) {
}
