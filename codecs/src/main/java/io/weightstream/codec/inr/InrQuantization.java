package io.weightstream.codec.inr;

import java.util.Arrays;
import java.util.List;

/**
 * How each tensor of an {@link InrArchitecture}'s networks is stored: its bits per code and its grid, one uniform
 * grid per block slice ({@link #perColumn} false: a float32 step and offset) or one per output unit (true: a column
 * of an {@code [in, out]} weight gets its own step and offset, stored as a float32 scale per slice and two float16
 * numbers per column, see {@link InrFormat}). Shared by the codec (sizing, quantization, decoding) and the trainer
 * (its fake quantization mirrors this exactly).
 *
 * <p>Roles ({@link #of}): the hidden weights ({@code syn.1 .. syn.depth-1} weights, nearly all parameters) take
 * {@code bits}; the "edge" tensors (the modulator, the first synthesis layer, whose error is multiplied by omega0,
 * and the output layer) take {@code bitsEdge}; the hidden biases take {@code bitsBias} (a bias error is also
 * multiplied by omega0 and they are about 2 % of the parameters).
 *
 * <pre>{@code
 * InrQuantization q = InrQuantization.of(arch, 8, 16, 16, true, true);
 * q.bits(2);          // bits of parameters().get(2)
 * q.shareAt(8);       // fraction of all parameters stored at 8 bits
 * }</pre>
 *
 * @param bits        bits per code of each tensor, in {@link InrArchitecture#parameters()} order
 * @param perColumn   whether each tensor has one grid per output unit
 * @param refitOutput whether the encoder solves the output layer by least squares on the quantized hidden layers
 *                    before storing it (an encoder choice; the decoder does not need to know)
 */
public record InrQuantization(int[] bits, boolean[] perColumn, boolean refitOutput) {
    public InrQuantization {
        bits = bits.clone();
        perColumn = perColumn.clone();
        if (bits.length != perColumn.length) {
            throw new IllegalArgumentException(bits.length + " bit widths, " + perColumn.length + " grid kinds");
        }
        for (int b : bits) {
            if (b < InrFormat.MIN_BITS || b > InrFormat.MAX_BITS) {
                throw new IllegalArgumentException("bits per code " + b + " not in [2, 16]");
            }
        }
    }

    /**
     * The plan of the codec's parameters: hidden weights at {@code bits}, edge tensors at {@code bitsEdge}, hidden
     * biases at {@code bitsBias}; weight matrices at 8 bits or fewer get per-output-unit grids when {@code columns}.
     */
    public static InrQuantization of(InrArchitecture arch, int bits, int bitsEdge, int bitsBias, boolean columns,
                                     boolean refitOutput) {
        List<InrArchitecture.Parameter> ps = arch.parameters();
        int[] b = new int[ps.size()];
        boolean[] c = new boolean[ps.size()];
        for (int t = 0; t < b.length; t++) {
            InrArchitecture.Parameter p = ps.get(t);
            boolean hidden = p.name().startsWith("syn.") && !p.name().startsWith("syn.0.");
            boolean bias = p.rows() == 1;
            b[t] = !hidden ? bitsEdge : bias ? bitsBias : bits;
            c[t] = columns && !bias && b[t] <= 8;
        }
        return new InrQuantization(b, c, refitOutput);
    }

    /** Every tensor at {@code bits} with one grid per slice: the layout of format version 1. */
    public static InrQuantization uniform(InrArchitecture arch, int bits) {
        int n = arch.parameters().size();
        int[] b = new int[n];
        Arrays.fill(b, bits);
        return new InrQuantization(b, new boolean[n], false);
    }

    /** Bits per code of tensor {@code t}. */
    public int bits(int t) {
        return bits[t];
    }

    /** Whether tensor {@code t} has one grid per output unit. */
    public boolean perColumn(int t) {
        return perColumn[t];
    }

    /** Bytes of the stored networks besides the architecture: per-tensor kinds, grids and codes, all blocks. */
    public long payloadBytes(InrArchitecture arch) {
        List<InrArchitecture.Parameter> ps = arch.parameters();
        long codeBits = 0;
        long grids = 2L * ps.size();
        for (int t = 0; t < ps.size(); t++) {
            InrArchitecture.Parameter p = ps.get(t);
            codeBits += p.size() * bits[t];
            grids += (long) arch.blocks() * (perColumn[t] ? 4 + 4L * p.cols() : 8);
        }
        return grids + (arch.blocks() * codeBits + 7) / 8;
    }

    /** Fraction of all parameters stored at exactly {@code b} bits. */
    public double shareAt(InrArchitecture arch, int b) {
        List<InrArchitecture.Parameter> ps = arch.parameters();
        long at = 0;
        long all = 0;
        for (int t = 0; t < ps.size(); t++) {
            all += ps.get(t).size();
            if (bits[t] == b) {
                at += ps.get(t).size();
            }
        }
        return all == 0 ? 0 : (double) at / all;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof InrQuantization q && Arrays.equals(bits, q.bits) && Arrays.equals(perColumn, q.perColumn)
                && refitOutput == q.refitOutput;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bits) * 31 + Arrays.hashCode(perColumn) + (refitOutput ? 1 : 0);
    }

    @Override
    public String toString() {
        return "bits " + Arrays.toString(bits) + ", per column " + Arrays.toString(perColumn)
                + (refitOutput ? ", output refit" : "");
    }
}
