// The inverse of a dense symmetric positive definite matrix, through its Cholesky factor. Every
// loop walks rows (row-major), so the n³/2 multiply-adds stay in cache lines.

/**
 * Inverts the n × n SPD matrix a (row-major) and returns the inverse; a is overwritten. Throws when
 * a is not positive definite.
 */
export function spdInverse(a: Float64Array, n: number): Float64Array {
  if (a.length !== n * n) throw new Error(`spdInverse: expected ${n * n} entries, got ${a.length}`);
  // 1. a = L·Lᵀ, L written over the lower triangle of a.
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = a[rj + j];
    for (let k = 0; k < j; k++) d -= a[rj + k] * a[rj + k];
    if (!(d > 0)) throw new Error(`spdInverse: matrix is not positive definite (pivot ${j} is ${d})`);
    const ljj = Math.sqrt(d);
    a[rj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= a[ri + k] * a[rj + k];
      a[ri + j] = s / ljj;
    }
  }
  // 2. W = L⁻¹ (lower), row by row: row_i(W) = (e_i − Σ_{k<i} L[i][k]·row_k(W)) / L[i][i].
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    w[ri + i] = 1;
    for (let k = 0; k < i; k++) {
      const lik = a[ri + k];
      if (lik === 0) continue;
      const rk = k * n;
      for (let c = 0; c <= k; c++) w[ri + c] -= lik * w[rk + c];
    }
    const inv = 1 / a[ri + i];
    for (let c = 0; c <= i; c++) w[ri + c] *= inv;
  }
  // 3. a⁻¹ = Wᵀ·W, accumulated one row of W at a time into the lower triangle of a, then mirrored.
  a.fill(0);
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    for (let i = 0; i <= k; i++) {
      const wki = w[rk + i];
      if (wki === 0) continue;
      const ri = i * n;
      for (let c = 0; c <= i; c++) a[ri + c] += wki * w[rk + c];
    }
  }
  for (let i = 0; i < n; i++) for (let c = 0; c < i; c++) a[c * n + i] = a[i * n + c];
  return a;
}
