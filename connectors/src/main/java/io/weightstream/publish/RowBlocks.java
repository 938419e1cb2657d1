package io.weightstream.publish;

import io.weightstream.tensor.TensorSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * How a tensor larger than {@code max.tensor.bytes} is cut into row blocks ({@code name#part<i>}) that are
 * published, compressed and decoded independently, and put back together by the decoder. One rule for the
 * publisher and the offline compressor, so Kafka and the container carry the same parts.
 */
public final class RowBlocks {
    private RowBlocks() {
    }

    /** One row block (or the whole tensor): its name, byte range in the parent, first row and shape. */
    public record Block(String name, long offset, long bytes, long rowStart, long[] shape, int index, int count) {
        public boolean isPart() {
            return count > 1;
        }
    }

    /** The name of part {@code index} of {@code parent}. */
    public static String partName(String parent, int index) {
        return parent + "#part" + index;
    }

    /** The blocks of {@code spec}: itself when it fits in {@code maxTensorBytes}, else row blocks that each fit. */
    public static List<Block> of(TensorSpec spec, long maxTensorBytes) {
        long[] shape = spec.shape();
        long bytes = spec.byteSize();
        if (bytes <= maxTensorBytes || shape.length == 0) {
            return List.of(new Block(spec.name(), 0, bytes, 0, shape, 0, 1));
        }
        long rows = shape[0];
        long rowBytes = rows == 0 ? bytes : bytes / rows;
        long rowsPerPart = Math.max(1, maxTensorBytes / Math.max(1, rowBytes));
        int count = (int) ((rows + rowsPerPart - 1) / rowsPerPart);
        List<Block> blocks = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long rowStart = i * rowsPerPart;
            long r = Math.min(rowsPerPart, rows - rowStart);
            long[] partShape = shape.clone();
            partShape[0] = r;
            blocks.add(new Block(partName(spec.name(), i), rowStart * rowBytes, r * rowBytes, rowStart, partShape, i, count));
        }
        return blocks;
    }
}
