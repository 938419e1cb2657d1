package io.weightstream.codec.lowrank;

import java.util.SplittableRandom;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * Truncated SVDs with EJML (exact, and randomized after Halko, Martinsson and Tropp 2011, "Finding structure
 * with randomness", algorithm 4.4) and the
 * deterministic float32 product that decodes the factors.
 */
final class LowRankKernels {
    private LowRankKernels() {
    }

    /** Singular triplets in descending order: U (R x m), s (m), V (C x m). */
    record Svd(DMatrixRMaj u, double[] s, DMatrixRMaj v) {
        int size() {
            return s.length;
        }
    }

    /** Aspect ratio from which {@link #exact} goes through the Gram matrix of the short side. */
    static final int GRAM_ASPECT = 4;

    /**
     * The thin SVD of {@code w}, all min(R, C) triplets. Matrices at least {@value #GRAM_ASPECT} times taller
     * than wide (embeddings [vocab, dim]) go through the eigen-decomposition of the small Gram matrix
     * {@code W^T W} and {@code U = W V / s}: 4x faster than EJML's SVD on [30522, 384], and as accurate as the
     * float16 factors need (singular values below about 1e-8 of the largest lose precision; the product
     * {@code U S V^T = W V V^T} of the kept ones stays exact). Wide ones are transposed first.
     */
    static Svd exact(DMatrixRMaj w) {
        if (w.numRows >= GRAM_ASPECT * w.numCols) {
            return gram(w);
        }
        if (w.numCols >= GRAM_ASPECT * w.numRows) {
            DMatrixRMaj t = new DMatrixRMaj(w.numCols, w.numRows);
            CommonOps_DDRM.transpose(w, t);
            Svd s = gram(t);
            return new Svd(s.v(), s.s(), s.u());
        }
        return direct(w);
    }

    static Svd direct(DMatrixRMaj w) {
        SingularValueDecomposition_F64<DMatrixRMaj> svd =
                DecompositionFactory_DDRM.svd(w.numRows, w.numCols, true, true, true);
        if (!svd.decompose(w.copy())) {
            throw new IllegalStateException("SVD did not converge");
        }
        DMatrixRMaj u = svd.getU(null, false);
        DMatrixRMaj v = svd.getV(null, false);
        int m = svd.numberOfSingularValues();
        double[] s = svd.getSingularValues().clone();
        SingularOps_DDRM.descendingOrder(u, false, s, m, v, false);
        return new Svd(u, java.util.Arrays.copyOf(s, m), v);
    }

    private static Svd gram(DMatrixRMaj w) {
        int rows = w.numRows;
        int cols = w.numCols;
        DMatrixRMaj g = new DMatrixRMaj(cols, cols);
        CommonOps_DDRM.multTransA(w, w, g);
        EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(cols, true, true);
        if (!eig.decompose(g)) {
            throw new IllegalStateException("eigen-decomposition did not converge");
        }
        Integer[] order = new Integer[cols];
        double[] lambda = new double[cols];
        for (int i = 0; i < cols; i++) {
            order[i] = i;
            lambda[i] = Math.max(0, eig.getEigenvalue(i).getReal());
        }
        // descending eigenvalues; ties by index so the order is deterministic
        java.util.Arrays.sort(order, (a, b) -> lambda[a] != lambda[b] ? Double.compare(lambda[b], lambda[a]) : a - b);
        double[] s = new double[cols];
        DMatrixRMaj v = new DMatrixRMaj(cols, cols);
        for (int t = 0; t < cols; t++) {
            s[t] = Math.sqrt(lambda[order[t]]);
            DMatrixRMaj e = eig.getEigenVector(order[t]);
            for (int j = 0; j < cols; j++) {
                v.set(j, t, e == null ? 0 : e.get(j, 0));
            }
        }
        DMatrixRMaj u = new DMatrixRMaj(rows, cols);
        CommonOps_DDRM.mult(w, v, u);
        double floor = s.length == 0 ? 0 : s[0] * 1e-12;
        for (int t = 0; t < cols; t++) {
            double inv = s[t] > floor ? 1 / s[t] : 0;
            for (int i = 0; i < rows; i++) {
                u.set(i, t, u.get(i, t) * inv);
            }
        }
        return new Svd(u, s, v);
    }

    /**
     * {@code l} approximate leading singular triplets: range finder with a seeded Gaussian test matrix and
     * {@code powerIterations} re-orthonormalized power iterations, then the exact SVD of the small projection.
     */
    static Svd randomized(DMatrixRMaj w, int l, int powerIterations, long seed) {
        int rows = w.numRows;
        int cols = w.numCols;
        SplittableRandom rnd = new SplittableRandom(seed);
        DMatrixRMaj omega = new DMatrixRMaj(cols, l);
        for (int i = 0; i < omega.data.length; i++) {
            omega.data[i] = gaussian(rnd);
        }
        DMatrixRMaj y = new DMatrixRMaj(rows, l);
        CommonOps_DDRM.mult(w, omega, y);
        DMatrixRMaj q = orthonormal(y);
        for (int i = 0; i < powerIterations && q.numCols > 0; i++) {
            DMatrixRMaj z = new DMatrixRMaj(cols, q.numCols);
            CommonOps_DDRM.multTransA(w, q, z);
            DMatrixRMaj qz = orthonormal(z);
            y = new DMatrixRMaj(rows, qz.numCols);
            CommonOps_DDRM.mult(w, qz, y);
            q = orthonormal(y);
        }
        if (q.numCols == 0) {
            return new Svd(new DMatrixRMaj(rows, 0), new double[0], new DMatrixRMaj(cols, 0));
        }
        DMatrixRMaj b = new DMatrixRMaj(q.numCols, cols);
        CommonOps_DDRM.multTransA(q, w, b);
        Svd small = exact(b);
        DMatrixRMaj u = new DMatrixRMaj(rows, small.size());
        CommonOps_DDRM.mult(q, small.u(), u);
        return new Svd(u, small.s(), small.v());
    }

    /**
     * An orthonormal basis of the columns of {@code a} by Gram-Schmidt with re-orthogonalization ("twice is
     * enough"); columns that are (numerically) in the span of the previous ones are dropped, so rank-deficient
     * matrices (e.g. a constant tensor) give a narrower basis instead of failing as Householder QR does in EJML.
     */
    static DMatrixRMaj orthonormal(DMatrixRMaj a) {
        int rows = a.numRows;
        int cols = a.numCols;
        double[][] q = new double[cols][];
        int r = 0;
        double[] v = new double[rows];
        for (int j = 0; j < cols; j++) {
            double norm0 = 0;
            for (int i = 0; i < rows; i++) {
                v[i] = a.get(i, j);
                norm0 += v[i] * v[i];
            }
            for (int pass = 0; pass < 2; pass++) {
                for (int p = 0; p < r; p++) {
                    double dot = 0;
                    for (int i = 0; i < rows; i++) {
                        dot += q[p][i] * v[i];
                    }
                    for (int i = 0; i < rows; i++) {
                        v[i] -= dot * q[p][i];
                    }
                }
            }
            double norm = 0;
            for (int i = 0; i < rows; i++) {
                norm += v[i] * v[i];
            }
            if (!(norm > 1e-24 * norm0) || norm == 0) {
                continue;
            }
            double inv = 1 / Math.sqrt(norm);
            q[r] = new double[rows];
            for (int i = 0; i < rows; i++) {
                q[r][i] = v[i] * inv;
            }
            r++;
        }
        DMatrixRMaj out = new DMatrixRMaj(rows, r);
        for (int p = 0; p < r; p++) {
            for (int i = 0; i < rows; i++) {
                out.set(i, p, q[p][i]);
            }
        }
        return out;
    }

    private static double gaussian(SplittableRandom rnd) {
        // Box-Muller with StrictMath: the same test matrix, hence the same factors, on every machine
        double u = rnd.nextDouble();
        double v = rnd.nextDouble();
        return StrictMath.sqrt(-2 * StrictMath.log(1 - u)) * StrictMath.cos(2 * Math.PI * v);
    }

    /** Smallest k whose leading squared singular values hold {@code energy} of {@code total}; at most s.length. */
    static int rankForEnergy(double[] s, double total, double energy) {
        if (total <= 0) {
            return 0;
        }
        double target = energy * total;
        double sum = 0;
        for (int k = 0; k < s.length; k++) {
            sum += s[k] * s[k];
            if (sum >= target) {
                return k + 1;
            }
        }
        return s.length;
    }

    /**
     * {@code out[i * cols + j] = sum_t a[i * k + t] * bt[t * cols + j]}, terms added in increasing t to a float32
     * accumulator starting at 0. Written as row updates so the inner loop vectorizes; each element still sees
     * exactly that sequence of roundings.
     */
    static void product(float[] a, float[] bt, int rows, int cols, int k, float[] out) {
        for (int i = 0; i < rows; i++) {
            int row = i * cols;
            java.util.Arrays.fill(out, row, row + cols, 0f);
            for (int t = 0; t < k; t++) {
                float x = a[i * k + t];
                int b = t * cols;
                for (int j = 0; j < cols; j++) {
                    out[row + j] += x * bt[b + j];
                }
            }
        }
    }
}
